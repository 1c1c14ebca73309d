import {
  knownKeys,
  nonNegativeInteger,
  nonNegativeNumber,
  plainObject,
  positiveInteger,
  positiveNumber,
} from '../internal/validate.js';
import { describeValue } from '../internal/describe.js';
import {
  type PerWindowKind,
  perWindowKind,
  type ResolvedWindow,
  PROVIDER_WINDOW_KINDS,
  type ProviderWindowKind,
  type WindowKind,
  type WindowLimits,
} from '../core/vocabulary.js';
import { DEFAULT_MOCK_TOKENIZER, type MockTokenizer } from './mock-tokenizer.js';

/**
 * Output tokens the mock reserves per generation when a body names no maximum. The mock's own
 * default; forestall's estimator happens to assume the same.
 */
export const DEFAULT_MOCK_OUTPUT_RESERVATION = 1_024;

/** Which API the mock server speaks. */
export type MockProvider = 'openai' | 'anthropic';

/**
 * How the mock enforces each limit, measured on every request's arrival time.
 * - `sliding-window`: at most `limit` in **any** interval of `windowMs` (a log of admitted requests),
 *   as OpenAI enforces requests and tokens per minute.
 * - `token-bucket`: capacity `limit`, refilled continuously at `limit / windowMs` per millisecond,
 *   as Anthropic replenishes its limits.
 */
export type MockAlgorithm = 'sliding-window' | 'token-bucket';

/** A uniformly random delay between `min` and `max` milliseconds (seeded). */
export interface MockLatencyRange {
  /** Shortest delay in milliseconds. */
  readonly min: number;
  /** Longest delay in milliseconds. */
  readonly max: number;
}

/**
 * Shares (0..1, summing to at most 1) of admitted requests that fail on purpose, drawn from the
 * seeded random sequence in arrival order. A faulted request was admitted: it keeps its request
 * slot, but its token charge is corrected to 0 because nothing was generated.
 */
export interface MockFaults {
  /** Answer with a 500 and the provider's server-error body. @default 0 */
  readonly error500?: number;
  /** Destroy the connection without an answer (the client sees a reset). @default 0 */
  readonly reset?: number;
  /** Never answer; the connection stays open until the client gives up or `close()`. @default 0 */
  readonly hang?: number;
}

/**
 * Options of `startMockServer(options)`. The window fields (`requests`, `tokens`, `inputTokens`,
 * `outputTokens`) take one window or several, none by default; the mock judges them on each
 * request's arrival, and charges token windows prompt tokens plus the maximum output up front,
 * corrected to the usage the response reports.
 */
export interface MockServerOptions extends Partial<PerWindowKind<WindowLimits | undefined>> {
  /** The API to speak: OpenAI (`/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`) or Anthropic (`/v1/messages`). */
  readonly provider: MockProvider;
  /**
   * How limits refill. @default `'sliding-window'` for `openai`, `'token-bucket'` for `anthropic`
   */
  readonly algorithm?: MockAlgorithm | undefined;
  /** Delay before each admitted request is answered: fixed, or a seeded random range. @default 0 */
  readonly latencyMs?: number | MockLatencyRange | undefined;
  /** Deliberate failures. @default no faults */
  readonly faults?: MockFaults | undefined;
  /** Seed of the random sequences behind faults and latency ranges. @default 1 */
  readonly seed?: number | undefined;
  /**
   * Output tokens each choice produces: the response uses `min(maxOutput, outputTokensPerResponse)`
   * and reports it in `usage`. @default 20
   */
  readonly outputTokensPerResponse?: number | undefined;
  /**
   * Output tokens reserved up front per generation when the body names no `max_tokens`,
   * `max_completion_tokens` or `max_output_tokens`, times `n` for chat.
   * @default 1024
   */
  readonly outputReservation?: number | undefined;
  /**
   * How the mock counts prompt tokens. It counts on its own, never with forestall's estimator, so
   * a test against it catches a client that under-counts. Both ways charge text plus 4 tokens per
   * message (each chat or Anthropic message, Responses input item, `instructions`; not Anthropic's
   * `system`, which is text only), 3 per request for the reply, and fixed amounts for images (765,
   * 85 at `detail: "low"`, 1,398 on Anthropic), other media (1,024) and Anthropic's tool-use system
   * prompt (346; 313 for a forced tool). A function tool counts its name, description and schema
   * JSON; embeddings their input. The full rule is in the README's mock section.
   * - `tiktoken`: text as `o200k_base` tokens, counted in forestall's tokenizer worker (the BPE
   *   encoder only: which texts count and the overheads are the mock's rule), which
   *   `startMockServer` loads before it listens (about 0.7 s, once per process, off this thread).
   * - `fast`: one token per four bytes of UTF-8 (four characters of English) of all the request's
   *   text together, rounded up once: a character count like the one OpenAI says its rate limiter
   *   makes up front; loads nothing. Plain English prose has about five characters a token, so
   *   this charges it about a quarter more than `tiktoken` does.
   * @default 'tiktoken'
   * @example
   * // 'Hello, mock!' (12 bytes): ceil(12 / 4) + 4 (the message) + 3 (the reply) = 10 prompt tokens
   * await startMockServer({ provider: 'openai', tokenizer: 'fast' });
   */
  readonly tokenizer?: MockTokenizer | undefined;
  /** Milliseconds between streamed events. @default 0 */
  readonly streamChunkDelayMs?: number | undefined;
  /**
   * Whether a request answered with 429 still takes a slot in the request windows. OpenAI says
   * "unsuccessful requests contribute to your per-minute limit"; whether that includes its own 429s
   * is not documented, so the lenient reading is the default. Rejected requests never take tokens.
   * @default false
   */
  readonly countRejected?: boolean | undefined;
  /**
   * Also send `retry-after-ms` on 429s (Azure does; OpenAI and Anthropic send only `retry-after`,
   * in whole seconds, which is coarse for windows of a few hundred milliseconds). @default false
   */
  readonly retryAfterMs?: boolean | undefined;
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number | undefined;
  /**
   * An overloaded provider: beyond `concurrency` requests in flight (admitted and not yet
   * answered), a request is answered at once with Anthropic's 529 `overloaded_error` or OpenAI's
   * 503, with no rate-limit headers, and never reaches the limits. @default no cap
   */
  readonly capacity?: MockCapacity | undefined;
}

/** What the mock serves at once before it answers overloaded. */
export interface MockCapacity {
  /** Requests in flight at once. */
  readonly concurrency: number;
}

/** The budgets a request can be charged to: the window kinds (exported as `MockLimitKind`). */
export type MeterKind = ProviderWindowKind;

/** Every option after validation, with defaults applied. */
export interface ResolvedMockOptions {
  readonly provider: MockProvider;
  readonly windows: PerWindowKind<readonly ResolvedWindow[]>;
  readonly algorithm: MockAlgorithm;
  readonly latency: MockLatencyRange;
  readonly faults: Required<MockFaults>;
  readonly seed: number;
  readonly outputTokensPerResponse: number;
  readonly outputReservation: number;
  readonly tokenizer: MockTokenizer;
  readonly streamChunkDelayMs: number;
  readonly countRejected: boolean;
  readonly retryAfterMs: boolean;
  readonly port: number;
  /** Requests in flight beyond which the mock answers overloaded (Infinity: no cap). */
  readonly capacity: number;
}

const OPTION_KEYS: readonly string[] = [
  'provider',
  ...PROVIDER_WINDOW_KINDS,
  'algorithm',
  'latencyMs',
  'faults',
  'seed',
  'outputTokensPerResponse',
  'outputReservation',
  'tokenizer',
  'streamChunkDelayMs',
  'countRejected',
  'retryAfterMs',
  'port',
  'capacity',
];

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    const message = `Expected \`${name}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`;
    throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
  }
  return value as T;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describeValue(value)}`);
  return value;
}

function windows(key: WindowKind, value: unknown): ResolvedWindow[] {
  if (value === undefined) return [];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new RangeError(`Expected \`${key}\` to hold at least one window, got an empty array`);
  return list.map((item, i) => {
    const name = Array.isArray(value) ? `${key}[${i}]` : key;
    const w = plainObject(name, item);
    knownKeys(`\`${name}\``, w, ['limit', 'windowMs']);
    // Request counts are whole; token budgets too, since the mock charges whole tokens.
    return {
      limit: positiveInteger(`${name}.limit`, w.limit),
      windowMs: positiveNumber(`${name}.windowMs`, w.windowMs),
    };
  });
}

function share(name: string, value: unknown): number {
  if (value === undefined) return 0;
  const n = nonNegativeNumber(name, value);
  if (n > 1) throw new RangeError(`Expected \`${name}\` to be a share between 0 and 1, got ${describeValue(value)}`);
  return n;
}

function latency(value: unknown): MockLatencyRange {
  if (value === undefined) return { min: 0, max: 0 };
  if (typeof value === 'number') {
    const ms = nonNegativeNumber('latencyMs', value);
    return { min: ms, max: ms };
  }
  const range = plainObject('latencyMs', value);
  knownKeys('`latencyMs`', range, ['min', 'max']);
  const min = nonNegativeNumber('latencyMs.min', range.min);
  const max = nonNegativeNumber('latencyMs.max', range.max);
  if (max < min) {
    throw new RangeError(
      `Expected \`latencyMs.max\` to be at least \`latencyMs.min\` (${min}), got ${describeValue(max)}`,
    );
  }
  return { min, max };
}

function faults(value: unknown): Required<MockFaults> {
  if (value === undefined) return { error500: 0, reset: 0, hang: 0 };
  const f = plainObject('faults', value);
  knownKeys('`faults`', f, ['error500', 'reset', 'hang']);
  const out = {
    error500: share('faults.error500', f.error500),
    reset: share('faults.reset', f.reset),
    hang: share('faults.hang', f.hang),
  };
  const sum = out.error500 + out.reset + out.hang;
  if (sum > 1 + 1e-9) {
    throw new RangeError(`Expected the shares in \`faults\` to sum to at most 1, got ${describeValue(sum)}`);
  }
  return out;
}

function capacity(value: unknown): number {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  const c = plainObject('capacity', value);
  knownKeys('`capacity`', c, ['concurrency']);
  return positiveInteger('capacity.concurrency', c.concurrency);
}

/** Validates `startMockServer` options, naming the option and the value in every error. */
export function resolveMockOptions(options: unknown): ResolvedMockOptions {
  const o = plainObject('options', options);
  knownKeys('startMockServer options', o, OPTION_KEYS);
  const provider = oneOf<MockProvider>('provider', o.provider, ['openai', 'anthropic']);
  const opt = <T>(value: unknown, check: (v: unknown) => T, fallback: T): T =>
    value === undefined ? fallback : check(value);
  return {
    provider,
    windows: perWindowKind((kind) => windows(kind, o[kind])),
    algorithm: opt(
      o.algorithm,
      (v) => oneOf<MockAlgorithm>('algorithm', v, ['sliding-window', 'token-bucket']),
      provider === 'anthropic' ? 'token-bucket' : 'sliding-window',
    ),
    latency: latency(o.latencyMs),
    faults: faults(o.faults),
    seed: opt(o.seed, (v) => nonNegativeInteger('seed', v), 1),
    outputTokensPerResponse: opt(o.outputTokensPerResponse, (v) => positiveInteger('outputTokensPerResponse', v), 20),
    outputReservation: opt(
      o.outputReservation,
      (v) => nonNegativeInteger('outputReservation', v),
      DEFAULT_MOCK_OUTPUT_RESERVATION,
    ),
    tokenizer: opt(
      o.tokenizer,
      (v) => oneOf<MockTokenizer>('tokenizer', v, ['tiktoken', 'fast']),
      DEFAULT_MOCK_TOKENIZER,
    ),
    streamChunkDelayMs: opt(o.streamChunkDelayMs, (v) => nonNegativeNumber('streamChunkDelayMs', v), 0),
    countRejected: opt(o.countRejected, (v) => boolean('countRejected', v), false),
    retryAfterMs: opt(o.retryAfterMs, (v) => boolean('retryAfterMs', v), false),
    port: opt(
      o.port,
      (v) => {
        const port = nonNegativeInteger('port', v);
        if (port > 65_535) throw new RangeError(`Expected \`port\` to be at most 65535, got ${describeValue(v)}`);
        return port;
      },
      0,
    ),
    capacity: capacity(o.capacity),
  };
}
