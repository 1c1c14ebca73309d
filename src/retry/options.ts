import type { RetryError } from '../core/errors.js';
import type { RetryEvent } from '../core/events.js';
import { systemClock, type Clock } from '../internal/clock.js';
import { describeValue } from '../internal/describe.js';
import {
  abortSignal,
  callable,
  knownKeys,
  nonNegativeNumber,
  plainObject,
  positiveInteger,
  positiveNumber,
} from '../internal/validate.js';
import type { AcquireOptions } from '../core/vocabulary.js';
import type { RetryBudget } from './retry-budget.js';
import type { RetryLease, RetryLimiter, ShouldRetryContext } from './types.js';

/** Options of `retry(fn, options)`. */
export interface RetryOptions<T, L extends RetryLease = RetryLease> {
  /** Attempts in all, the first one included (not retries): 6 means 1 attempt + up to 5 retries. @default 6 */
  readonly maxAttempts?: number | undefined;
  /** The backoff ceiling after the first failure; it doubles after each one (full jitter below it). @default 1000 */
  readonly baseDelayMs?: number | undefined;
  /** The backoff ceiling never grows beyond this. @default 60000 */
  readonly maxDelayMs?: number | undefined;
  /**
   * The longest delay a server may name (`retry-after`, ...). A longer one fails the call at once
   * with a `RetryError` whose `retryAfterMs` holds it: a daily quota's "retry after 86400 seconds"
   * must not become a silent day-long sleep. @default 60000
   */
  readonly maxRetryAfterMs?: number | undefined;
  /**
   * Aborts an attempt's `signal` after this long; a timed-out attempt is retried. It bounds the wait
   * for `fn`'s promise (for `fetch`, the response headers), not a later read of a streamed body.
   * @default no timeout
   */
  readonly attemptTimeoutMs?: number | undefined;
  /**
   * Bounds the whole call, waits included: no retry starts whose delay would end at or past it, and
   * an attempt still running when it passes is aborted. Either way the call fails with `RetryError`.
   * @default no deadline
   */
  readonly deadlineMs?: number | undefined;
  /** Cancels the call at once (in flight, queued or waiting); it rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Overrides the default verdict (see `classifyFailure`): return `true` to retry, `false` not to,
   * `undefined` to keep the default. It gets the error as `fn` threw it (a non-ok `Response`, when
   * `fn` returned one). An exception thrown here rejects the call with it.
   */
  readonly shouldRetry?: ((error: unknown, context: ShouldRetryContext) => boolean | undefined) | undefined;
  /**
   * Called before each wait between attempts; a returned promise is awaited. The event's `error`
   * has credentials redacted. An exception thrown here rejects the call with it.
   */
  readonly onRetry?: ((event: RetryEvent) => void | Promise<void>) | undefined;
  /**
   * Resolve with this instead of rejecting with `RetryError`. A function is called with the
   * `RetryError` and its result used (so to fall back to a function value, return it from one).
   * Not used when the caller's `signal` aborts. @default none
   */
  readonly fallback?: T | ((error: RetryError) => T | Promise<T>) | undefined;
  /**
   * Each attempt takes its own lease from it (`ctx.lease`, released when the attempt ends); a 429
   * pauses it for everyone; it emits `retry` and `rateLimited`.
   */
  readonly limiter?: RetryLimiter<L> | undefined;
  /** Options for each attempt's `limiter.acquire()` (the call's `signal` is passed for you). */
  readonly acquire?: Omit<AcquireOptions, 'signal'> | undefined;
  /** A retry budget shared with other calls; when it runs dry, the call fails instead of retrying. */
  readonly budget?: RetryBudget | undefined;
  /** A uniform random number in [0, 1) for jitter; inject a seeded one in tests. @default Math.random */
  readonly random?: (() => number) | undefined;
  /** The clock for delays and timeouts; inject a fake one in tests. @default performance.now() and Node's timers */
  readonly clock?: Clock | undefined;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedRetryOptions<T, L extends RetryLease> {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly attemptTimeoutMs: number | undefined;
  readonly deadlineMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly shouldRetry: RetryOptions<T, L>['shouldRetry'];
  readonly onRetry: RetryOptions<T, L>['onRetry'];
  readonly hasFallback: boolean;
  readonly fallback: RetryOptions<T, L>['fallback'];
  readonly limiter: RetryLimiter<L> | undefined;
  readonly acquire: Omit<AcquireOptions, 'signal'>;
  readonly budget: RetryBudget | undefined;
  readonly random: () => number;
  readonly clock: Clock;
}

/** Every option `retry()` takes. Internal. */
export const RETRY_OPTION_KEYS = [
  'maxAttempts',
  'baseDelayMs',
  'maxDelayMs',
  'maxRetryAfterMs',
  'attemptTimeoutMs',
  'deadlineMs',
  'signal',
  'shouldRetry',
  'onRetry',
  'fallback',
  'limiter',
  'acquire',
  'budget',
  'random',
  'clock',
] as const;

/** Node's timers fire at once (with a warning) beyond this; a longer wait would be a silent bug. */
const MAX_TIMER_MS = 2_147_483_647;

function timerMs(name: string, value: number): number {
  if (value > MAX_TIMER_MS) {
    throw new RangeError(
      `Expected \`${name}\` to be at most ${MAX_TIMER_MS} (the longest timer), got ${describeValue(value)}`,
    );
  }
  return value;
}

// Checked by shape, not `instanceof`: a limiter or budget may come from the other build (ESM/CJS)
// of this package, or be a test double.
function withMethods(name: string, value: unknown, methods: readonly string[]): void {
  const obj = plainObject(name, value);
  for (const method of methods) callable(`${name}.${method}`, obj[method]);
}

/**
 * Validates `retry` options and fills in defaults; throws naming the option and the value.
 * `path` prefixes the names in messages when the options sit inside others (`'retry.'`).
 */
export function resolveRetryOptions<T, L extends RetryLease>(
  options: RetryOptions<T, L>,
  path = '',
): ResolvedRetryOptions<T, L> {
  const self = path === '' ? 'retry options' : path.replace(/\.$/, '');
  plainObject(self, options);
  knownKeys(path === '' ? self : `\`${self}\``, options, RETRY_OPTION_KEYS);
  const o = options;
  const opt = <V>(value: V | undefined, check: (v: V) => V): V | undefined =>
    value === undefined ? undefined : check(value);
  const n = (name: string): string => `${path}${name}`;

  if (o.signal !== undefined) abortSignal(n('signal'), o.signal);
  if (o.shouldRetry !== undefined) callable(n('shouldRetry'), o.shouldRetry);
  if (o.onRetry !== undefined) callable(n('onRetry'), o.onRetry);
  if (o.random !== undefined) callable(n('random'), o.random);
  if (o.limiter !== undefined) withMethods(n('limiter'), o.limiter, ['acquire', 'rateLimited', 'retrying']);
  if (o.clock !== undefined) withMethods(n('clock'), o.clock, ['now', 'setTimeout', 'clearTimeout']);
  if (o.budget !== undefined) withMethods(n('budget'), o.budget, ['tryWithdraw', 'recordSuccess', 'costOf']);
  if (o.acquire !== undefined) {
    plainObject(n('acquire'), o.acquire);
    if (Object.hasOwn(o.acquire, 'signal')) {
      throw new TypeError(
        `Unexpected \`${n('acquire.signal')}\`: pass \`signal\` in the retry options; it also cancels each acquire`,
      );
    }
  }

  return {
    maxAttempts: positiveInteger(n('maxAttempts'), o.maxAttempts ?? 6),
    baseDelayMs: timerMs(n('baseDelayMs'), nonNegativeNumber(n('baseDelayMs'), o.baseDelayMs ?? 1_000)),
    maxDelayMs: timerMs(n('maxDelayMs'), nonNegativeNumber(n('maxDelayMs'), o.maxDelayMs ?? 60_000)),
    maxRetryAfterMs: timerMs(
      n('maxRetryAfterMs'),
      nonNegativeNumber(n('maxRetryAfterMs'), o.maxRetryAfterMs ?? 60_000),
    ),
    attemptTimeoutMs: opt(o.attemptTimeoutMs, (v) =>
      timerMs(n('attemptTimeoutMs'), positiveNumber(n('attemptTimeoutMs'), v)),
    ),
    deadlineMs: opt(o.deadlineMs, (v) => timerMs(n('deadlineMs'), positiveNumber(n('deadlineMs'), v))),
    signal: o.signal,
    shouldRetry: o.shouldRetry,
    onRetry: o.onRetry,
    // `fallback: undefined` means "no fallback", like every other option left undefined.
    hasFallback: o.fallback !== undefined,
    fallback: o.fallback,
    limiter: o.limiter,
    acquire: o.acquire ?? {},
    budget: o.budget,
    random: o.random ?? Math.random,
    clock: o.clock ?? systemClock,
  };
}
