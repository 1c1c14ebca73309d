import type { TokenCost } from '../core/vocabulary.js';
import { describeValue } from '../internal/describe.js';
import {
  booleanOption,
  callable,
  finiteNumber,
  knownKeys,
  nonNegativeInteger,
  nonNegativeNumber,
  plainObject,
} from '../internal/validate.js';
import { Limiter } from '../limiter/limiter.js';
import { PROVIDER_NAMES, type ProviderName } from '../providers/types.js';
import { LimiterRegistry } from '../registry/registry.js';
import { RETRY_OPTION_KEYS, resolveRetryOptions, type RetryOptions } from '../retry/options.js';
import { countMode, type TokenCountMode } from '../tokens/text-counter.js';
import { type LimitedFetchFallbackOptions, type ResolvedFallback, resolveFallback } from './fallback.js';
import { type Prices, resolvePrices } from './prices.js';

export type { LimitedFetchFallbackOptions } from './fallback.js';
export type { ModelPrice, Prices } from './prices.js';

/** The `fetch` signature the wrapper takes and returns. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How a request's token cost is estimated before it is sent. */
export interface EstimateSettings {
  /** `tiktoken` counts with the model's encoding; `fast` is about chars / 4. @default 'tiktoken' */
  readonly mode?: TokenCountMode | undefined;
  /** Output tokens reserved per generation when the body names no maximum. @default 1024 */
  readonly outputReservation?: number | undefined;
}

/** A function giving the cost of a request from its parsed JSON body and its URL. */
export type EstimateFunction = (body: unknown, url: string) => TokenCost | Promise<TokenCost>;

/** Retry settings for the fetch wrapper: `retry()`'s options without the ones the wrapper sets. */
export type LimitedFetchRetryOptions = Omit<RetryOptions<Response>, 'limiter' | 'acquire' | 'signal' | 'fallback'>;

/** When a request starts counting in the windows (see `countFrom`). */
export type CountFrom = 'sent' | 'response' | 'admission';

/** Options of `createLimitedFetch()`. */
export interface LimitedFetchOptions {
  /** One limiter for every request, or a registry picking one per provider and `model`. */
  readonly limiter: Limiter | LimiterRegistry;
  /** Whose API the requests go to: decides header names, request shapes and usage fields. */
  readonly provider: ProviderName;
  /** The real fetch. @default globalThis.fetch */
  readonly fetch?: FetchLike | undefined;
  /**
   * Retry 429s, 5xx and connection failures inside the wrapper (each attempt acquires again).
   * `true` for the defaults. Turn the SDK's own retries off (`maxRetries: 0`). @default false
   */
  readonly retry?: boolean | LimitedFetchRetryOptions | undefined;
  /** Token estimation, or a function returning the cost of a parsed JSON body. */
  readonly estimate?: EstimateSettings | EstimateFunction | undefined;
  /**
   * When a request starts counting in the windows. `'sent'` (the default) moves it to when it left
   * the process: with Node's built-in fetch, when its headers were written to the socket (read from
   * `node:diagnostics_channel`, matched by an `x-forestall-request` header the wrapper adds); with
   * another `fetch`, or when no such moment is reported, to `sentFallbackMs` after its admission
   * (no later than its response). `'response'` moves it to when its response headers arrive, at
   * most `maxCountDelayMs` after admission. `'admission'` counts from the acquire. The provider
   * counts a request when it arrives, a little after it left: counting from then keeps the windows
   * as the provider sees them without holding a slot for a whole generation.
   * @default 'sent'
   */
  readonly countFrom?: CountFrom | undefined;
  /**
   * With `countFrom: 'response'`, how much later than its admission a request may be counted.
   * A request reaches the provider within a few round trips of being sent, but a non-streaming LLM
   * response sends its headers only when generation ends, seconds later: counting from then would
   * hold window slots needlessly. @default 2000
   */
  readonly maxCountDelayMs?: number | undefined;
  /**
   * With `countFrom: 'sent'`, when the moment a request left is not reported (a `fetch` other than
   * Node's built-in one), it counts from this many ms after its admission, or from its response
   * when that came sooner. @default 50
   */
  readonly sentFallbackMs?: number | undefined;
  /**
   * With `countFrom: 'sent'` and Node's built-in fetch, how long after it left a request is
   * counted from, unless its response headers come sooner (it had arrived by then). The way to the
   * provider takes from a few ms to a few tens of ms (one way), and varies: a request counted
   * before the provider counts it frees its slot too soon. Costs about `sentMarginMs / windowMs`
   * of the rate when responses are slower than the margin (3.75% of a 2 s window, 0.125% of a
   * minute). @default 75
   */
  readonly sentMarginMs?: number | undefined;
  /**
   * Observe every response's rate-limit headers (`limiter.observe`): adopt announced limits and
   * tighten when others share the quota. While a limiter has heard nothing from the provider yet,
   * its first request goes alone and the rest wait for its answer, so a quota others already use
   * is not hit with a full burst. @default true
   */
  readonly sync?: boolean | undefined;
  /** Priority of these requests in the limiter's queue. @default 0 */
  readonly priority?: number | undefined;
  /** Give up waiting for the limiter after this many ms (`AcquireTimeoutError`). */
  readonly acquireTimeoutMs?: number | undefined;
  /** How long a 429 that names no delay pauses the limiter. @default 1000 */
  readonly rateLimitPauseMs?: number | undefined;
  /**
   * Send a request to another model when its own cannot take it soon: with `models` naming each
   * model's fallbacks (`{ 'gpt-4o': ['gpt-4o-mini'] }`), a request whose model would wait longer
   * than `afterMs` (1000 ms by default), is paused by a 429, or answered overloaded (503, 529, an
   * overloaded stream error) within the delay it named (else `rateLimitPauseMs`), goes to the
   * first fallback that admits (`acquireAny`, the requested model waited for up to `afterMs`):
   * its body's `model` is rewritten, or the model in its URL (Gemini's model, Azure's
   * deployment), and the response is the fallback's. An overloaded model is tried after its
   * fallbacks. The limiter that served it emits `fallback` (`{ requested, served, reason }`).
   * Every attempt routes again; with `retry`, a 429 or overload is retried at once when another
   * model can take it. Needs `limiter` to be a `LimiterRegistry` (each model its own limiter).
   * @default no fallback
   */
  readonly fallback?: LimitedFetchFallbackOptions | undefined;
  /**
   * What each model (or model group) costs per million input, cached input and output tokens, in
   * the currency of the limiters' `spend` budgets: `{ 'gpt-4o-mini': { input: 0.15, cachedInput:
   * 0.075, output: 0.6 } }`. Each request then reserves its estimated cost (its input and the
   * output it may produce) and is reconciled to what its usage says it cost; one that could never
   * fit a spend budget fails before it is sent, and a model with no price on a limiter with a spend
   * budget throws rather than go uncounted. @default no prices
   */
  readonly prices?: Prices | undefined;
}

/** The options after validation, with defaults filled in. Internal. */
export interface ResolvedFetchOptions {
  readonly source: Limiter | LimiterRegistry;
  readonly provider: ProviderName;
  readonly fetch: FetchLike;
  /** `undefined` when retries are off. */
  readonly retry: LimitedFetchRetryOptions | undefined;
  /** The caller's estimate function, or `undefined` to use `estimateRequestTokens`. */
  readonly estimate: EstimateFunction | undefined;
  readonly mode: TokenCountMode;
  readonly outputReservation: number | undefined;
  readonly countFrom: CountFrom;
  readonly sync: boolean;
  readonly maxCountDelayMs: number;
  readonly sentFallbackMs: number;
  readonly sentMarginMs: number;
  readonly priority: number;
  readonly acquireTimeoutMs: number | undefined;
  readonly rateLimitPauseMs: number;
  /** `undefined` when there is no fallback. */
  readonly fallback: ResolvedFallback | undefined;
  /** `undefined` without prices. */
  readonly prices: Prices | undefined;
}

const OPTION_KEYS = [
  'limiter',
  'provider',
  'fetch',
  'retry',
  'estimate',
  'countFrom',
  'maxCountDelayMs',
  'sentFallbackMs',
  'sentMarginMs',
  'sync',
  'priority',
  'acquireTimeoutMs',
  'rateLimitPauseMs',
  'fallback',
  'prices',
] as const;

/** `retry()` options the wrapper sets itself, and why a caller cannot. */
const WRAPPER_RETRY_KEYS: Readonly<Record<string, string>> = {
  limiter: 'every attempt already acquires from the `limiter` option',
  acquire: 'each attempt acquires the cost estimated from its body',
  signal: "pass the request's own `signal` to the fetch call",
  fallback: 'when retries run out, the last response (or connection error) is handed back as it came',
};

function oneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value === 'string' && allowed.includes(value)) return;
  const quoted = allowed.map((a) => `'${a}'`);
  const expected = quoted.length === 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`;
  const message = `Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

function optionalBoolean(name: string, value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : booleanOption(name, value);
}

function resolveRetry(value: unknown): LimitedFetchRetryOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected \`retry\` to be true, false or an object of retry options, got ${describeValue(value)}`,
    );
  }
  const retry = value as Record<string, unknown>;
  for (const key of Object.keys(retry)) {
    const why = Object.hasOwn(WRAPPER_RETRY_KEYS, key) ? WRAPPER_RETRY_KEYS[key] : undefined;
    if (why !== undefined) throw new TypeError(`Unexpected \`retry.${key}\` in createLimitedFetch options: ${why}`);
  }
  knownKeys(
    '`retry`',
    retry,
    RETRY_OPTION_KEYS.filter((key) => !Object.hasOwn(WRAPPER_RETRY_KEYS, key)),
  );
  // The resolver `retry()` runs on every request: a bad value fails here, not on the first request.
  resolveRetryOptions(retry as LimitedFetchRetryOptions, 'retry.');
  return retry as LimitedFetchRetryOptions;
}

function resolveEstimate(value: unknown): Pick<ResolvedFetchOptions, 'estimate' | 'mode' | 'outputReservation'> {
  if (value === undefined) return { estimate: undefined, mode: 'tiktoken', outputReservation: undefined };
  if (typeof value === 'function') {
    return { estimate: value as EstimateFunction, mode: 'tiktoken', outputReservation: undefined };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected \`estimate\` to be a function or an object ({ mode, outputReservation }), got ${describeValue(value)}`,
    );
  }
  const settings = value as Record<string, unknown>;
  knownKeys('`estimate`', settings, ['mode', 'outputReservation']);
  return {
    estimate: undefined,
    mode: countMode('estimate.mode', settings.mode),
    outputReservation:
      settings.outputReservation === undefined
        ? undefined
        : nonNegativeInteger('estimate.outputReservation', settings.outputReservation),
  };
}

/** Validates every option of `createLimitedFetch` and fills in defaults; throws naming the option. Internal. */
export function resolveFetchOptions(options: LimitedFetchOptions): ResolvedFetchOptions {
  const o = plainObject('options', options);
  knownKeys('createLimitedFetch options', o, OPTION_KEYS);
  const source = o.limiter;
  if (!(source instanceof Limiter) && !(source instanceof LimiterRegistry)) {
    throw new TypeError(`Expected \`limiter\` to be a Limiter or a LimiterRegistry, got ${describeValue(source)}`);
  }
  oneOf('provider', o.provider, PROVIDER_NAMES);
  // The message keeps naming the two values it always named; 'sent' is accepted as well.
  if (o.countFrom !== undefined) oneOf('countFrom', o.countFrom, ['sent', 'response', 'admission']);
  const countFrom = (o.countFrom ?? 'sent') as CountFrom;
  if (
    o.countFrom !== undefined &&
    countFrom !== 'admission' &&
    source instanceof Limiter &&
    !source.capabilities.arrivalTime
  ) {
    // Asked for explicitly, it cannot take effect: say so now. Left at its default, the limiter
    // warns once on the first request instead (FORESTALL_STORE_CAPABILITY).
    throw new TypeError(
      `\`countFrom: '${countFrom}'\` needs a store that can restamp (\`capabilities.arrivalTime\`); this limiter's store cannot: use \`countFrom: 'admission'\``,
    );
  }
  const realFetch = o.fetch === undefined ? undefined : callable<FetchLike>('fetch', o.fetch);
  return {
    source,
    provider: o.provider as ProviderName,
    fetch: realFetch ?? ((input, init) => globalThis.fetch(input, init)),
    retry: resolveRetry(o.retry),
    ...resolveEstimate(o.estimate),
    countFrom,
    sync: optionalBoolean('sync', o.sync, true),
    maxCountDelayMs: o.maxCountDelayMs === undefined ? 2_000 : nonNegativeNumber('maxCountDelayMs', o.maxCountDelayMs),
    sentFallbackMs: o.sentFallbackMs === undefined ? 50 : nonNegativeNumber('sentFallbackMs', o.sentFallbackMs),
    sentMarginMs: o.sentMarginMs === undefined ? 75 : nonNegativeNumber('sentMarginMs', o.sentMarginMs),
    priority: o.priority === undefined ? 0 : finiteNumber('priority', o.priority),
    acquireTimeoutMs:
      o.acquireTimeoutMs === undefined ? undefined : nonNegativeNumber('acquireTimeoutMs', o.acquireTimeoutMs),
    rateLimitPauseMs:
      o.rateLimitPauseMs === undefined ? 1_000 : nonNegativeNumber('rateLimitPauseMs', o.rateLimitPauseMs),
    fallback: resolveFallback(o.fallback, source),
    prices: resolvePrices(o.prices),
  };
}
