import type { Clock } from '../internal/clock.js';
import type { LimiterStore } from '../stores/store.js';
import type { LimitOptions, TokenCost } from '../core/vocabulary.js';

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

/** Options of `limiter.observe(snapshot, options)`. */
export interface ObserveOptions {
  /**
   * When the request whose response carried the snapshot was sent (`lease.acquiredAt`): the
   * server answered at some moment since, and our requests that left a window meanwhile must not
   * be taken for someone else's use. @default now
   */
  readonly since?: number | undefined;
}

/** Options of `lease.reconcile(actual, options)`. */
export interface ReconcileOptions {
  /** Also count the request from now (see `lease.restamp()`). @default false */
  readonly restamp?: boolean | undefined;
}

/** Options of `limiter.acquire()` and `limiter.tryAcquire()`. */
export interface AcquireOptions {
  /** The token reservation: a number (input tokens) or `{ input, output }`. @default 0 */
  readonly tokens?: TokenCost | undefined;
  /** Higher goes first; equal priorities are served in arrival order. @default 0 */
  readonly priority?: number | undefined;
  /** Aborting it removes the caller from the queue and rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Reject with `AcquireTimeoutError` when not admitted within this many ms. */
  readonly timeoutMs?: number | undefined;
}
