import type { Clock } from '../internal/clock.js';
import { booleanOption, finiteNumber, knownKeys, plainObject } from '../internal/validate.js';
import type { LimiterStore, StoreUsage } from '../stores/store.js';
import {
  type AcquireOptions,
  type LimitOptions,
  type PerWindowKind,
  perWindowKind,
  type WindowUsage,
} from '../core/vocabulary.js';
import type { RetryOptions } from '../retry/options.js';
import type { Lease } from './lease.js';
import { LIMIT_KEYS } from './limits.js';

/** Options of `new Limiter(options)`. */
export interface LimiterOptions extends LimitOptions {
  /**
   * `'auto'`: learn the limits from the provider. Until the first `observe()` (the first response's
   * headers), one request at a time; then every window the server announces is adopted. Limits
   * you set yourself are never replaced, only othersShare. Any limiter adopts announced limits for
   * the kinds you did not set; `'auto'` adds the one-at-a-time start.
   */
  readonly limits?: 'auto' | undefined;
  /** A monotonic clock with timers. @default performance.now() and Node's timers */
  readonly clock?: Clock | undefined;
  /** Where window state lives. @default in-process memory */
  readonly store?: LimiterStore | undefined;
}

/** Throws at once, naming the option, when `options` is not what `new Limiter()` takes. */
export function validateLimiterOptions(options: LimiterOptions): void {
  plainObject('options', options);
  knownKeys('Limiter options', options, [...LIMIT_KEYS, 'clock', 'store', 'limits']);
  if (options.limits !== undefined && options.limits !== 'auto') {
    throw new TypeError(`Expected \`limits\` to be 'auto' or undefined, got ${JSON.stringify(options.limits)}`);
  }
}

/** Options of `limiter.observe(snapshot, options)`. */
export interface ObserveOptions {
  /**
   * When the request whose response carried the snapshot was sent (`lease.acquiredAt`): the
   * server answered at some moment since, and our requests that left a window meanwhile must not
   * be taken for someone else's use. @default now
   */
  readonly since?: number | undefined;
  /**
   * The response refused the request for a rate limit (a 429) that this limiter let through:
   * others used more than was learned, so each request window the server reports spent holds a
   * request of headroom on top of their share while it lasts. @default false
   */
  readonly refused?: boolean | undefined;
}

/** `observe()`'s options, checked, with their defaults (`since` undefined means now). */
export function resolveObserveOptions(options: ObserveOptions | undefined): {
  since: number | undefined;
  refused: boolean;
} {
  if (options === undefined) return { since: undefined, refused: false };
  plainObject('options', options);
  return {
    since: options.since === undefined ? undefined : finiteNumber('since', options.since),
    refused: options.refused === undefined ? false : booleanOption('refused', options.refused),
  };
}

/** Options of `lease.reconcile(actual, options)`. */
export interface ReconcileOptions {
  /** Also count the request from now (see `lease.restamp()`). @default false */
  readonly restamp?: boolean | undefined;
  /** What the request really cost, for `spend` budgets. @default the spend reserved */
  readonly spend?: number | undefined;
  /**
   * `actual` is a better estimate, not the usage the provider reported: the `reconciled` event
   * says so, and metrics leave it out. @default false
   */
  readonly estimate?: boolean | undefined;
}

/** What `limiter.stats()` reports. */
export interface LimiterStats extends PerWindowKind<readonly WindowUsage[]> {
  /** Callers waiting. */
  readonly queued: number;
  /** Leases held (admitted and not yet released). */
  readonly inFlight: number;
  /** The concurrency cap, or undefined when unlimited. */
  readonly concurrency: number | undefined;
  /** Until when a pause holds admissions, on the limiter's clock; 0 when not paused. */
  readonly pausedUntil: number;
  /** Milliseconds until a pause ends (`pausedUntil - now`); 0 when not paused. */
  readonly pausedForMs: number;
  /**
   * The least time between two admissions while 429s that the limits did not foresee have slowed
   * the pace (see the `paceChanged` event); 0 when not pacing.
   */
  readonly paceIntervalMs: number;
  readonly closed: boolean;
}

/** `limiter.stats()` from its parts' state. */
export function limiterStats(
  now: number,
  usage: StoreUsage,
  queued: number,
  inFlight: number,
  concurrency: number,
  pace: { readonly paceIntervalMs: number },
  closed: boolean,
): LimiterStats {
  return {
    queued,
    inFlight,
    concurrency: Number.isFinite(concurrency) ? concurrency : undefined,
    ...perWindowKind((kind) => usage[kind]),
    pausedUntil: usage.pausedUntil > now ? usage.pausedUntil : 0,
    pausedForMs: usage.pausedUntil > now ? usage.pausedUntil - now : 0,
    paceIntervalMs: pace.paceIntervalMs,
    closed,
  };
}

/** Options of `limiter.run(fn, options)`: acquire options, plus `retry` to retry failed attempts. */
export interface RunOptions<T = unknown> extends AcquireOptions {
  /**
   * Retry failed attempts (`retry(fn, { ...retry, limiter: this, acquire })`): every attempt takes
   * its own lease, and a 429 pauses this limiter for everyone. Off when absent.
   */
  readonly retry?: Omit<RetryOptions<T, Lease>, 'limiter' | 'acquire'> | undefined;
}

/** What `fn` gets from `limiter.run(fn)` besides the lease. */
export interface RunContext {
  /** 1, or with `retry` the attempt number. */
  readonly attempt: number;
  /** Aborted when the caller's signal aborts (and, with `retry`, on attempt timeouts and the deadline). */
  readonly signal: AbortSignal;
}
