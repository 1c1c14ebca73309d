import type { RetryEvent } from '../core/events.js';
import type { AcquireOptions } from '../core/vocabulary.js';
import type { FailureClassification } from '../feedback/failure.js';
import type { RateLimitAnswer } from '../feedback/rate-limit-policy.js';

export type { FailureClassification, FailureReason } from '../feedback/failure.js';

/**
 * The part of a lease that `retry` uses. A `Lease` from `limiter.acquire()` has all of it; any
 * object of this shape will do.
 */
export interface RetryLease {
  /** Frees the lease's concurrency slot; idempotent. */
  release(): void;
  /** The request was never sent: gives back its request slot and tokens, then releases. */
  cancel(): void;
  /** Replaces the token reservation with what was really used. */
  reconcile(actual: number | { readonly input?: number; readonly output?: number }): void;
  /** How long the caller waited for the lease. */
  readonly waitedMs: number;
  /** When the lease was admitted, on the limiter's clock: a repeated 429 is told apart by it. Optional. */
  readonly acquiredAt?: number;
  /** The provider answered overloaded: adaptive concurrency shrinks its cap. Optional. */
  overloaded?(): void;
}

/**
 * The part of a limiter that `retry` uses: leases for each attempt, the one 429 policy (a pause
 * for everyone, the `rateLimited` event) and the `retry` event. A `Limiter` satisfies it; so does a test double.
 */
export interface RetryLimiter<L extends RetryLease = RetryLease> {
  /** Waits until every limit admits the cost; rejects with the signal's reason when aborted. */
  acquire(options?: AcquireOptions): Promise<L>;
  /** A 429 was seen: pauses everyone as the one 429 policy says, emits `rateLimited`, returns the pause. */
  rateLimited(answer: RateLimitAnswer): number;
  /** Emits `retry` before each wait between attempts. */
  retrying(event: RetryEvent): void;
  /** Listens for the limiter's `closed` event: a retry waiting between attempts stops at once. Optional. */
  once?(event: 'closed', listener: () => void): unknown;
  off?(event: 'closed', listener: () => void): unknown;
}

/** What `fn` receives on each attempt. */
export interface RetryContext<L extends RetryLease = RetryLease> {
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborted when this attempt times out (`attemptTimeoutMs`), when `deadlineMs` passes, or when the
   * caller's `signal` aborts. Hand it to `fetch` or the SDK call (`{ signal }`).
   */
  readonly signal: AbortSignal;
  /** This attempt's lease, when `retry` was given a `limiter`; released when the attempt ends. */
  readonly lease?: L;
}

/** What `shouldRetry` receives besides the error. */
export interface ShouldRetryContext {
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  /** The default verdict, which `shouldRetry` may override. */
  readonly classification: FailureClassification;
  /** Milliseconds since `retry` was called. */
  readonly elapsedMs: number;
}
