import type { IncomingMessage, ServerResponse } from 'node:http';
import { isObject, type JsonObject as Json } from '../internal/is-object.js';
import {
  badRequestReply,
  notFoundReply,
  overloadedReply,
  rateLimitReply,
  serverErrorReply,
  type ErrorReply,
} from './mock-errors.js';
import type { Generation } from './mock-generation.js';
import { rateLimitHeaders } from './mock-headers.js';
import { isRefusal, type Admission } from './mock-limits.js';
import type { MockFaults, MockProvider, ResolvedMockOptions } from './mock-options.js';
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
import type { MutableRecord } from './mock-stats.js';
import type { MockEndpoint, RequestPlan } from './mock-usage.js';
import { requestIdentifier } from './mock-request.js';

/** What an exchange needs from its server. */
export interface ExchangeHost {
  readonly options: ResolvedMockOptions;
  /** Milliseconds since the server started (monotonic). */
  now(): number;
  /** Resolves after `ms` (at once for 0); never resolves once the server is closed. */
  sleep(ms: number): Promise<void>;
  /** The server is closing: streams stop where they are. */
  closed(): boolean;
  /** Takes a place among the requests in flight; false when `capacity` is full (overloaded). */
  enter(): boolean;
  /** Gives the place back: the answer is done, or the connection closed. */
  leave(): void;
}

const ID_PREFIX: Readonly<Record<MockEndpoint, string>> = {
  chat: 'chatcmpl-mock',
  responses: 'resp_mock',
  embeddings: 'emb_mock',
  messages: 'msg_mock',
};

type Fault = 'error500' | 'reset' | 'hang';

/** One draw per admitted request, split into consecutive shares: [500 | reset | hang | none]. */
function faultOf(draw: number, faults: Required<MockFaults>): Fault | undefined {
  return draw < faults.error500
    ? 'error500'
    : draw < faults.error500 + faults.reset
      ? 'reset'
      : draw < faults.error500 + faults.reset + faults.hang
        ? 'hang'
        : undefined;
}

/**
 * One request from arrival to answer: its record in the stats, its admission against the limits
 * of the generation it arrived in, faults and latency, the answer (JSON or a stream), and the
 * correction of its charge to the usage the answer reports.
 */
export class MockExchange {
  /** What the stats say about this request, filled in as it goes along. */
  readonly record: MutableRecord;
  readonly #host: ExchangeHost;
  readonly #generation: Generation;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #provider: MockProvider;
  readonly #requestId: string;

  constructor(
    host: ExchangeHost,
    generation: Generation,
    req: IncomingMessage,
    res: ServerResponse,
    arrivedAt: number,
    seq: number,
  ) {
    this.#host = host;
    this.#generation = generation;
    this.#req = req;
    this.#res = res;
    this.#provider = host.options.provider;
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.record = { seq, arrivedAt, method, path, outcome: 'pending', bodyHash: '' };
    const headerId = requestIdentifier(req, undefined);
    if (headerId !== undefined) this.record.id = headerId;
    generation.records.push(this.record);
    this.#requestId = `req_mock${String(seq).padStart(6, '0')}`;
  }

  /** A path or method the provider does not serve. */
  notFound(): void {
    const { record } = this;
    record.outcome = 'not-found';
    this.#sendError(notFoundReply(this.#provider, record.method, record.path, this.#requestId));
    record.status = 404;
  }

  /** A body that cannot be served: not JSON, or a required field missing. */
  badRequest(message: string): void {
    this.record.outcome = 'bad-request';
    this.record.status = 400;
    this.#sendError(badRequestReply(this.#provider, message, this.#requestId));
  }

  /** The client went away while its body was being read, or the mock itself failed. */
  failed(): void {
    if (this.record.outcome === 'pending') this.record.outcome = 'bad-request';
    this.#sendError(serverErrorReply(this.#provider, this.#requestId));
  }

  /** Judges the request against the limits (in arrival order), then answers it. */
  admit(plan: RequestPlan, body: Json): void {
    const { record } = this;
    const options = this.#host.options;
    const generation = this.#generation;
    record.model = plan.model;
    record.stream = plan.stream;
    record.reserved = plan.reserved;
    if (!this.#host.enter()) {
      record.outcome = 'overloaded';
      const reply = overloadedReply(this.#provider, this.#requestId);
      record.status = reply.status;
      // An overloaded server says nothing of rate limits.
      this.#sendError(reply, false);
      return;
    }
    this.#res.once('close', () => this.#host.leave());
    const verdict = generation.limits.admit(plan.reserved, record.arrivedAt, options.countRejected);
    if (isRefusal(verdict)) {
      record.outcome = verdict.reason;
      record.status = 429;
      // Refusals are answered at once: a gateway rejects before any model work.
      this.#sendError(rateLimitReply(this.#provider, verdict, plan.model, this.#requestId, options.retryAfterMs));
      return;
    }
    record.charged = plan.reserved;

    const { faults, latency } = options;
    const draw = generation.faultRandom();
    const delay = latency.min + generation.latencyRandom() * (latency.max - latency.min);
    const fault = faultOf(draw, faults);

    if (fault !== undefined) {
      // Nothing was generated: the request keeps its request slot but its tokens are given back.
      const none = { input: 0, output: 0 };
      generation.limits.correct(verdict, none);
      record.charged = none;
      record.outcome = fault;
      if (fault === 'hang') return; // the socket stays open until the client gives up or close()
      void this.#host.sleep(delay).then(() => {
        if (fault === 'reset') {
          this.#req.socket.destroy();
          return;
        }
        record.status = 500;
        this.#sendError(serverErrorReply(this.#provider, this.#requestId));
      });
      return;
    }

    record.outcome = 'accepted';
    const ids: ResponseIds = {
      id: `${ID_PREFIX[plan.endpoint]}${String(record.seq).padStart(6, '0')}`,
      created: Math.floor(Date.now() / 1_000),
    };
    void this.#host.sleep(delay).then(() => {
      if (this.#res.destroyed) {
        this.#correct(verdict, plan);
        return;
      }
      record.status = 200;
      if (plan.stream) void this.#stream(plan, body, ids, verdict);
      else this.#respond(plan, body, ids, verdict);
    });
  }

  /** Replaces the up-front charge with the usage the response reports. */
  #correct(admission: Admission, plan: RequestPlan): void {
    if (this.record.charged === plan.actual) return;
    this.#generation.limits.correct(admission, plan.actual);
    this.record.charged = plan.actual;
  }

  #headers(): Record<string, string> {
    return {
      ...rateLimitHeaders(this.#provider, this.#generation.limits.states(this.#host.now()), Date.now()),
      [this.#provider === 'anthropic' ? 'request-id' : 'x-request-id']: this.#requestId,
    };
  }

  #sendError(reply: ErrorReply, withLimits = true): void {
    const res = this.#res;
    if (res.destroyed || res.headersSent) return;
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(withLimits ? this.#headers() : {}),
      ...reply.headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    });
    res.end(payload);
  }

  #respond(plan: RequestPlan, body: Json, ids: ResponseIds, admission: Admission): void {
    // Corrected before the headers are written, so `remaining` already reflects real usage.
    this.#correct(admission, plan);
    const payload = JSON.stringify(
      plan.endpoint === 'chat'
        ? chatCompletion(plan, ids)
        : plan.endpoint === 'responses'
          ? responsesResponse(plan, ids, body)
          : plan.endpoint === 'embeddings'
            ? embeddingsResponse(plan, body)
            : anthropicMessage(plan, ids),
    );
    this.#res.writeHead(200, {
      ...this.#headers(),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    });
    this.#res.end(payload);
  }

  async #stream(plan: RequestPlan, body: Json, ids: ResponseIds, admission: Admission): Promise<void> {
    const res = this.#res;
    const streamOptions = body.stream_options;
    const includeUsage = isObject(streamOptions) && streamOptions.include_usage === true;
    const events: SseEvent[] =
      plan.endpoint === 'chat'
        ? chatCompletionStream(plan, ids, includeUsage)
        : plan.endpoint === 'responses'
          ? responsesStream(plan, ids, body)
          : anthropicStream(plan, ids);
    // A stream cut short is still corrected: the provider bills what it produced, and the mock's
    // output is fixed up front, so the deterministic amount is the one to charge.
    res.on('close', () => this.#correct(admission, plan));
    res.writeHead(200, {
      ...this.#headers(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    const gap = this.#host.options.streamChunkDelayMs;
    for (const [i, event] of events.entries()) {
      if (gap > 0 && i > 0) await this.#host.sleep(gap);
      if (res.destroyed || this.#host.closed()) return;
      // Anthropic and OpenAI correct the charge when the answer is complete: before the last event.
      if (i === events.length - 1) this.#correct(admission, plan);
      res.write(encodeSse(event));
    }
    res.end();
  }
}
