import type { RateLimitedEvent, RetryEvent } from '../core/events.js';
import type { AcquireOptions } from '../core/vocabulary.js';

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
}

/**
 * The part of a limiter that `retry` uses: leases for each attempt, a pause for everyone after a
 * 429, and the `retry` and `rateLimited` events. A `Limiter` satisfies it; so does a test double.
 */
export interface RetryLimiter<L extends RetryLease = RetryLease> {
  /** Waits until every limit admits the cost; rejects with the signal's reason when aborted. */
  acquire(options?: AcquireOptions): Promise<L>;
  /** Admits nobody for `ms` milliseconds. */
  pause(ms: number): void;
  /** Emits `retry` before each wait between attempts. */
  emit(event: 'retry', payload: RetryEvent): boolean;
  /** Emits `rateLimited` when the server answered 429. */
  emit(event: 'rateLimited', payload: RateLimitedEvent): boolean;
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

/**
 * Why a failure is, or is not, worth another attempt.
 * - Retried by default: `rate-limited` (429), `overloaded` (503, 529), `server-error` (500, 502,
 *   504, 520-524), `timeout` (408, attempt timeouts, connection timeouts), `conflict` (409),
 *   `connection` (reset, refused, closed socket, DNS retry), `server-retry` (`x-should-retry: true`).
 * - Never retried by default: `insufficient-quota` (OpenAI billing), `request-too-large` (a request
 *   over the whole per-minute budget), `spend-limit` (Anthropic spend caps), `daily-quota` (Gemini
 *   per-day quota), `server-no-retry` (`x-should-retry: false`), `http-error` (any other status:
 *   400, 401, 403, 404, 422, 501, ...), `aborted` (an abort), `unknown` (not an HTTP or network
 *   failure: most likely a bug, which another attempt would repeat).
 */
export type FailureReason =
  | 'rate-limited'
  | 'overloaded'
  | 'server-error'
  | 'timeout'
  | 'conflict'
  | 'connection'
  | 'server-retry'
  | 'insufficient-quota'
  | 'request-too-large'
  | 'spend-limit'
  | 'daily-quota'
  | 'server-no-retry'
  | 'http-error'
  | 'aborted'
  | 'unknown';

/** What `classifyFailure` makes of a failure. */
export interface FailureClassification {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean;
  readonly reason: FailureReason;
  /** The HTTP status, when the failure was an HTTP response. */
  readonly status?: number;
  /**
   * The delay the server named: `retry-after-ms`, `x-ms-retry-after-ms`, `retry-after` (seconds or
   * an HTTP date), Gemini's `RetryInfo.retryDelay`, or "try again in 1.54s" in the message.
   */
  readonly retryAfterMs?: number;
  /**
   * The most specific error code found: Anthropic's `error.details.error_code`, the body's
   * `error.code` (`insufficient_quota`), Gemini's `error.status`, or a network code (`ECONNRESET`).
   */
  readonly code?: string;
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
