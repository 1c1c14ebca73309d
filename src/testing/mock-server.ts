import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { badRequestReply, notFoundReply, rateLimitReply, serverErrorReply, type ErrorReply } from './mock-errors.js';
import { rateLimitHeaders } from './mock-headers.js';
import { isRefusal, MockLimits, type Admission } from './mock-limits.js';
import {
  resolveMockOptions,
  type MockProvider,
  type MockServerOptions,
  type ResolvedMockOptions,
} from './mock-options.js';
import {
  anthropicMessage,
  anthropicStream,
  chatCompletion,
  chatCompletionStream,
  embeddingsResponse,
  encodeSse,
  responsesResponse,
  responsesStream,
  type ResponseIds,
  type SseEvent,
} from './mock-responses.js';
import { computeStats, type MockStats, type MutableRecord } from './mock-stats.js';
import { planRequest, type MockEndpoint, type RequestPlan } from './mock-usage.js';
import { seededRandom } from './seeded-random.js';

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

type Json = Record<string, unknown>;

const ROUTES: Readonly<Record<MockProvider, Readonly<Record<string, MockEndpoint>>>> = {
  openai: { '/v1/chat/completions': 'chat', '/v1/responses': 'responses', '/v1/embeddings': 'embeddings' },
  anthropic: { '/v1/messages': 'messages' },
};

const ID_PREFIX: Readonly<Record<MockEndpoint, string>> = {
  chat: 'chatcmpl-mock',
  responses: 'resp_mock',
  embeddings: 'emb_mock',
  messages: 'msg_mock',
};

/** Per-`reset()` state: limits, records and the seeded sequences. */
interface Generation {
  readonly limits: MockLimits;
  readonly records: MutableRecord[];
  readonly faultRandom: () => number;
  readonly latencyRandom: () => number;
}

/** Why a parsed body cannot be served, in the provider's words; undefined when it can. */
function invalidBody(provider: MockProvider, endpoint: MockEndpoint, body: Json): string | undefined {
  if (provider === 'anthropic') {
    if (!Array.isArray(body.messages)) return 'messages: Field required';
    if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
    return undefined;
  }
  if (endpoint === 'chat' && !Array.isArray(body.messages)) return "Missing required parameter: 'messages'.";
  if (endpoint === 'embeddings' && body.input === undefined) return "Missing required parameter: 'input'.";
  return undefined;
}

/** The caller's identifier for a request, from headers or the body's metadata. */
function requestIdentifier(req: IncomingMessage, body: Json | undefined): string | undefined {
  for (const name of ['x-forestall-id', 'x-request-id', 'idempotency-key']) {
    const value = req.headers[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string' && first !== '') return first;
  }
  const metadata = body?.metadata;
  if (typeof metadata === 'object' && metadata !== null) {
    for (const key of ['forestall_id', 'id', 'custom_id']) {
      const value = (metadata as Json)[key];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return undefined;
}

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
  #generation: Generation;
  /** Admissions run one at a time in arrival order, so limits see arrivals in order. */
  #admissions: Promise<void> = Promise.resolve();
  #seq = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedMockOptions, server: ReturnType<typeof createServer>, port: number) {
    this.#options = options;
    this.#server = server;
    this.port = port;
    this.provider = options.provider;
    this.origin = `http://127.0.0.1:${port}`;
    this.url = options.provider === 'openai' ? `${this.origin}/v1` : this.origin;
    this.#generation = this.#newGeneration();
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

  #newGeneration(): Generation {
    const { windows, algorithm, seed } = this.#options;
    return {
      limits: new MockLimits(windows, algorithm),
      records: [],
      faultRandom: seededRandom(seed),
      // A separate stream, so changing latency settings does not move which requests fault.
      latencyRandom: seededRandom(seed ^ 0x9e3779b9),
    };
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
    return computeStats(this.#generation.records, this.#options.windows);
  }

  reset(): void {
    this.#generation = this.#newGeneration();
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
    const arrivedAt = this.#now();
    const seq = ++this.#seq;
    const generation = this.#generation;
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const record: MutableRecord = { seq, arrivedAt, method, path, outcome: 'pending', bodyHash: '' };
    const headerId = requestIdentifier(req, undefined);
    if (headerId !== undefined) record.id = headerId;
    generation.records.push(record);
    const requestId = `req_mock${String(seq).padStart(6, '0')}`;

    const chunks: Buffer[] = [];
    const body = new Promise<string>((resolve, reject) => {
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

    const endpoint = method === 'POST' ? ROUTES[this.provider][path] : undefined;
    if (endpoint === undefined) {
      body.catch(() => undefined);
      record.outcome = 'not-found';
      this.#sendError(res, notFoundReply(this.provider, method, path, requestId), requestId, generation);
      record.status = 404;
      return;
    }

    // Parse and count tokens at once, in parallel with other requests; only admission is serialized.
    const prepared = body.then(async (raw) => {
      record.bodyHash = createHash('sha256').update(raw).digest('hex').slice(0, 16);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return { error: 'We could not parse the JSON body of your request.' } as const;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return { error: 'The request body must be a JSON object.' } as const;
      }
      const json = parsed as Json;
      const id = requestIdentifier(req, json);
      if (id !== undefined) record.id = id;
      const invalid = invalidBody(this.provider, endpoint, json);
      if (invalid !== undefined) return { error: invalid } as const;
      const plan = await planRequest(endpoint, json, raw, this.#options);
      return { plan, json } as const;
    });

    this.#admissions = this.#admissions
      .then(() => prepared)
      .then((result) => {
        if ('error' in result) {
          record.outcome = 'bad-request';
          record.status = 400;
          this.#sendError(res, badRequestReply(this.provider, result.error, requestId), requestId, generation);
          return;
        }
        this.#admit(req, res, result.plan, result.json, record, generation, requestId);
      })
      .catch(() => {
        // The client went away while its body was being read (nothing to answer), or the mock
        // itself failed: answer 500 rather than leave the client waiting.
        if (record.outcome === 'pending') record.outcome = 'bad-request';
        this.#sendError(res, serverErrorReply(this.provider, requestId), requestId, generation);
      });
  }

  #admit(
    req: IncomingMessage,
    res: ServerResponse,
    plan: RequestPlan,
    body: Json,
    record: MutableRecord,
    generation: Generation,
    requestId: string,
  ): void {
    record.model = plan.model;
    record.stream = plan.stream;
    record.reserved = plan.reserved;
    const verdict = generation.limits.admit(plan.reserved, record.arrivedAt, this.#options.countRejected);
    if (isRefusal(verdict)) {
      record.outcome = verdict.reason;
      record.status = 429;
      // Refusals are answered at once: a gateway rejects before any model work.
      const reply = rateLimitReply(this.provider, verdict, plan.model, requestId, this.#options.retryAfterMs);
      this.#sendError(res, reply, requestId, generation);
      return;
    }
    record.charged = plan.reserved;

    const { faults, latency } = this.#options;
    const draw = generation.faultRandom();
    const delay = latency.min + generation.latencyRandom() * (latency.max - latency.min);
    // One draw per admitted request, split into consecutive shares: [500 | reset | hang | none].
    const fault =
      draw < faults.error500
        ? 'error500'
        : draw < faults.error500 + faults.reset
          ? 'reset'
          : draw < faults.error500 + faults.reset + faults.hang
            ? 'hang'
            : undefined;

    if (fault !== undefined) {
      // Nothing was generated: the request keeps its request slot but its tokens are given back.
      const none = { input: 0, output: 0 };
      generation.limits.correct(verdict, none);
      record.charged = none;
      record.outcome = fault;
      if (fault === 'hang') return; // the socket stays open until the client gives up or close()
      void this.#sleep(delay).then(() => {
        if (fault === 'reset') {
          req.socket.destroy();
          return;
        }
        record.status = 500;
        this.#sendError(res, serverErrorReply(this.provider, requestId), requestId, generation);
      });
      return;
    }

    record.outcome = 'accepted';
    const ids: ResponseIds = {
      id: `${ID_PREFIX[plan.endpoint]}${String(record.seq).padStart(6, '0')}`,
      created: Math.floor(Date.now() / 1_000),
    };
    void this.#sleep(delay).then(() => {
      if (res.destroyed) {
        this.#correct(verdict, plan, record, generation);
        return;
      }
      record.status = 200;
      if (plan.stream) void this.#stream(res, plan, body, ids, verdict, record, generation, requestId);
      else this.#respond(res, plan, body, ids, verdict, record, generation, requestId);
    });
  }

  /** Replaces the up-front charge with the usage the response reports. */
  #correct(admission: Admission, plan: RequestPlan, record: MutableRecord, generation: Generation): void {
    if (record.charged === plan.actual) return;
    generation.limits.correct(admission, plan.actual);
    record.charged = plan.actual;
  }

  #headers(generation: Generation, requestId: string): Record<string, string> {
    return {
      ...rateLimitHeaders(this.provider, generation.limits.states(this.#now()), Date.now()),
      [this.provider === 'anthropic' ? 'request-id' : 'x-request-id']: requestId,
    };
  }

  #sendError(res: ServerResponse, reply: ErrorReply, requestId: string, generation: Generation): void {
    if (res.destroyed || res.headersSent) return;
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...this.#headers(generation, requestId),
      ...reply.headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    });
    res.end(payload);
  }

  #respond(
    res: ServerResponse,
    plan: RequestPlan,
    body: Json,
    ids: ResponseIds,
    admission: Admission,
    record: MutableRecord,
    generation: Generation,
    requestId: string,
  ): void {
    // Corrected before the headers are written, so `remaining` already reflects real usage.
    this.#correct(admission, plan, record, generation);
    const payload = JSON.stringify(
      plan.endpoint === 'chat'
        ? chatCompletion(plan, ids)
        : plan.endpoint === 'responses'
          ? responsesResponse(plan, ids, body)
          : plan.endpoint === 'embeddings'
            ? embeddingsResponse(plan, body)
            : anthropicMessage(plan, ids),
    );
    res.writeHead(200, {
      ...this.#headers(generation, requestId),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    });
    res.end(payload);
  }

  async #stream(
    res: ServerResponse,
    plan: RequestPlan,
    body: Json,
    ids: ResponseIds,
    admission: Admission,
    record: MutableRecord,
    generation: Generation,
    requestId: string,
  ): Promise<void> {
    const streamOptions = body.stream_options;
    const includeUsage =
      typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as Json).include_usage === true;
    const events: SseEvent[] =
      plan.endpoint === 'chat'
        ? chatCompletionStream(plan, ids, includeUsage)
        : plan.endpoint === 'responses'
          ? responsesStream(plan, ids, body)
          : anthropicStream(plan, ids);
    // A stream cut short is still corrected: the provider bills what it produced, and the mock's
    // output is fixed up front, so the deterministic amount is the one to charge.
    res.on('close', () => this.#correct(admission, plan, record, generation));
    res.writeHead(200, {
      ...this.#headers(generation, requestId),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    const gap = this.#options.streamChunkDelayMs;
    for (const [i, event] of events.entries()) {
      if (gap > 0 && i > 0) await this.#sleep(gap);
      if (res.destroyed || this.#closed) return;
      // Anthropic and OpenAI correct the charge when the answer is complete: before the last event.
      if (i === events.length - 1) this.#correct(admission, plan, record, generation);
      res.write(encodeSse(event));
    }
    res.end();
  }
}

/**
 * Starts a local server on 127.0.0.1 that speaks the OpenAI or Anthropic API, enforces the limits
 * you give it the way the provider does (measured on arrival), sends the provider's rate-limit
 * headers on every response, and answers over-limit requests with the provider's exact 429. Use it
 * to test that a client stays inside its limits: `stats()` tells what the server saw.
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
