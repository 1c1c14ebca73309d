import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type ExchangeHost, MockExchange } from './mock-exchange.js';
import { type Generation, newGeneration } from './mock-generation.js';
import {
  resolveMockOptions,
  type MockProvider,
  type MockServerOptions,
  type ResolvedMockOptions,
} from './mock-options.js';
import { prepareRequest, readBody, ROUTES } from './mock-request.js';
import { computeStats, type MockStats } from './mock-stats.js';
import { loadMockEncoder } from './mock-tokenizer.js';

/** A running mock provider server. */
export interface MockServer {
  /**
   * The base URL to give the provider's SDK: `http://127.0.0.1:PORT/v1` for OpenAI
   * (`new OpenAI({ baseURL: server.url })`), `http://127.0.0.1:PORT` for Anthropic, whose SDK adds
   * `/v1/messages` itself (`new Anthropic({ baseURL: server.url })`).
   */
  readonly url: string;
  /** `http://127.0.0.1:PORT`, for plain `fetch` calls: `${server.origin}/v1/messages`. */
  readonly origin: string;
  /** The port listened on. */
  readonly port: number;
  /** The API this server speaks. */
  readonly provider: MockProvider;
  /** Counts, busiest windows and every request seen since the start or the last `reset()`. */
  stats(): MockStats;
  /**
   * Forgets all limit state and statistics and restarts the seeded sequences, as if newly started.
   * Requests already admitted finish against the old state and are not counted again.
   */
  reset(): void;
  /**
   * Stops listening, destroys every connection (hanging ones included) and cancels pending timers,
   * so nothing keeps the process alive. Resolves once the server is closed; safe to call twice.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using server = await startMockServer(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The HTTP side of the mock: connections, timers, the generation `reset()` replaces, and the one
 * queue that admits requests in arrival order. What happens to each request is `MockExchange`'s.
 */
class MockProviderServer implements MockServer {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly provider: MockProvider;

  readonly #options: ResolvedMockOptions;
  readonly #server: ReturnType<typeof createServer>;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #startedAt = performance.now();
  readonly #host: ExchangeHost;
  #generation: Generation;
  /** Admissions run one at a time in arrival order, so limits see arrivals in order. */
  #admissions: Promise<void> = Promise.resolve();
  #seq = 0;
  /** Requests admitted and not yet answered, across generations (for `capacity`). */
  #inFlight = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedMockOptions, server: ReturnType<typeof createServer>, port: number) {
    this.#options = options;
    this.#server = server;
    this.port = port;
    this.provider = options.provider;
    this.origin = `http://127.0.0.1:${port}`;
    this.url = options.provider === 'openai' ? `${this.origin}/v1` : this.origin;
    this.#host = {
      options,
      now: () => this.#now(),
      sleep: (ms) => this.#sleep(ms),
      closed: () => this.#closed,
      enter: () => {
        if (this.#inFlight >= options.capacity) return false;
        this.#inFlight++;
        if (this.#inFlight > this.#generation.maxInFlight) this.#generation.maxInFlight = this.#inFlight;
        return true;
      },
      leave: () => void this.#inFlight--,
    };
    this.#generation = newGeneration(options);
    server.on('connection', (socket: Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
  }

  #now(): number {
    return performance.now() - this.#startedAt;
  }

  /** Resolves after `ms` (at once for 0); never resolves once the server is closed. */
  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  stats(): MockStats {
    return computeStats(this.#generation.records, this.#options.windows, this.#generation.maxInFlight);
  }

  reset(): void {
    this.#generation = newGeneration(this.#options);
    this.#generation.maxInFlight = this.#inFlight;
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#closing = new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
      this.#sockets.clear();
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const exchange = new MockExchange(this.#host, this.#generation, req, res, this.#now(), ++this.#seq);
    const { method, path } = exchange.record;
    const body = readBody(req);

    const endpoint = method === 'POST' ? ROUTES[this.provider][path] : undefined;
    if (endpoint === undefined) {
      body.catch(() => undefined);
      exchange.notFound();
      return;
    }

    // Parse and count tokens at once, in parallel with other requests; only admission is serialized.
    const prepared = body.then((raw) => prepareRequest(req, raw, endpoint, this.#options, exchange.record));

    this.#admissions = this.#admissions
      .then(() => prepared)
      .then((result) => {
        if ('error' in result) {
          exchange.badRequest(result.error);
          return;
        }
        exchange.admit(result.plan, result.json);
      })
      .catch(() => {
        // The client went away while its body was being read (nothing to answer), or the mock
        // itself failed: answer 500 rather than leave the client waiting.
        exchange.failed();
      });
  }
}

/**
 * Starts a local server on 127.0.0.1 that speaks the OpenAI or Anthropic API, enforces the limits
 * you give it the way the provider does (measured on arrival), sends the provider's rate-limit
 * headers on every response, and answers over-limit requests with the provider's exact 429. Use it
 * to test that a client stays inside its limits: `stats()` tells what the server saw.
 *
 * Tokens are counted by the mock's own rule (see the `tokenizer` option), never by forestall's
 * estimator, so a client whose estimate falls short meets the mock's 429s. With the default
 * `tokenizer: 'tiktoken'` the server loads the encoder (in forestall's tokenizer worker, off this
 * thread) before it listens: the first start in a process takes about 0.7 s longer, and no
 * request waits for it.
 *
 * @example
 * const server = await startMockServer({ provider: 'openai', requests: { limit: 5, windowMs: 500 } });
 * const client = new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
 * await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
 * server.stats().accepted; // 1
 * await server.close();
 *
 * @throws {TypeError | RangeError} for invalid options, naming the option and the value.
 */
export async function startMockServer(options: MockServerOptions): Promise<MockServer> {
  const resolved = resolveMockOptions(options);
  // Loaded before the first arrival, in the tokenizer worker: no request waits for it.
  if (resolved.tokenizer === 'tiktoken') await loadMockEncoder();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return new MockProviderServer(resolved, server, port);
}
