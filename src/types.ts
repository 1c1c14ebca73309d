import type { Clock } from './internal/clock.js';
import type { LimiterStore } from './stores/store.js';

/** At most `limit` units in **any** interval of `windowMs` milliseconds. */
export interface WindowLimit {
  /** How many request starts (or tokens) one window allows. */
  readonly limit: number;
  /** The window's length in milliseconds. */
  readonly windowMs: number;
}

/** A token cost: a plain number counts as input tokens. */
export type TokenCost = number | { readonly input?: number; readonly output?: number };

/** The limits a limiter enforces; every field is optional, and any subset can be changed later. */
export interface LimitOptions {
  /**
   * Request windows: at most `limit` starts in any `windowMs` (a sliding log, not fixed buckets).
   * Several at once, e.g. `[{ limit: 20, windowMs: 1_000 }, { limit: 500, windowMs: 60_000 }]`.
   */
  readonly requests?: WindowLimit | readonly WindowLimit[] | undefined;
  /** Token budgets per window, charged `input + output` of each request. */
  readonly tokens?: WindowLimit | readonly WindowLimit[] | undefined;
  /** Input-token budgets per window (Anthropic ITPM), charged the cost's `input`. */
  readonly inputTokens?: WindowLimit | readonly WindowLimit[] | undefined;
  /** Output-token budgets per window (Anthropic OTPM), charged the cost's `output`. */
  readonly outputTokens?: WindowLimit | readonly WindowLimit[] | undefined;
  /** At most this many leases held at once. @default unlimited */
  readonly concurrency?: number | undefined;
  /** Waiting callers beyond this many are rejected at once with `QueueFullError`. @default unlimited */
  readonly maxQueue?: number | undefined;
  /**
   * Extra milliseconds added to every window, so a provider that sees arrival times with network
   * jitter still sees the limit kept. @default 0
   */
  readonly marginMs?: number | undefined;
}

/** Options of `new Limiter(options)`. */
export interface LimiterOptions extends LimitOptions {
  /**
   * `'auto'`: learn the limits from the provider. Until the first `observe()` (the first response's
   * headers), one request at a time; then every window the server announces is adopted. Limits
   * you set yourself are never replaced, only tightened. Any limiter adopts announced limits for
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
