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
