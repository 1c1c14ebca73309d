import type { RateLimitedEvent } from '../core/events.js';
import { finiteNumber, nonNegativeNumber, plainObject } from '../internal/validate.js';

/**
 * How long everyone waits after a rate-limit answer that names no delay (a 429 without
 * `retry-after`, or a rate-limit error inside a stream): long enough for a per-second window to
 * turn over, short enough to cost little when the window is per minute (its headers then say when
 * it resets, and later answers name their delay).
 */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 1_000;

/** A rate-limit answer from the provider, as the limiter is told of it. */
export interface RateLimitAnswer {
  /** The HTTP status it stands for. @default 429 */
  readonly status?: number | undefined;
  /** The delay the server named (`retry-after`, `RetryInfo`, "try again in ..."), if any. */
  readonly retryAfterMs?: number | undefined;
  /** The pause when the server named no delay. @default DEFAULT_RATE_LIMIT_PAUSE_MS */
  readonly defaultPauseMs?: number | undefined;
  /** The longest pause, however long the named delay (a daily quota must not freeze the limiter). @default Infinity */
  readonly maxPauseMs?: number | undefined;
  /**
   * When the refused request was admitted (`lease.acquiredAt`): a 429 to a request admitted after
   * the previous 429 says the limiter's own pace is refused, and repeated ones slow it (see the
   * `paceChanged` event). Without it a 429 only pauses.
   */
  readonly admittedAt?: number | undefined;
}

/**
 * The one 429 policy: with a server-named delay, everyone pauses for it (at most `maxPauseMs`);
 * without one, everyone pauses for `defaultPauseMs`. (Overloads, 503 and 529, back off only the
 * call that got them: `retry` does that, and nobody else is held.)
 */
export function rateLimitPauseMs(answer: RateLimitAnswer): number {
  const max = answer.maxPauseMs === undefined ? Number.POSITIVE_INFINITY : nonNegativeOrInfinite(answer.maxPauseMs);
  const fallback =
    answer.defaultPauseMs === undefined
      ? DEFAULT_RATE_LIMIT_PAUSE_MS
      : nonNegativeNumber('defaultPauseMs', answer.defaultPauseMs);
  const named = answer.retryAfterMs === undefined ? undefined : nonNegativeNumber('retryAfterMs', answer.retryAfterMs);
  return Math.min(named ?? fallback, max);
}

/** The `rateLimited` event for `answer`, its pause decided by the one policy (validated: a bad field throws). */
export function rateLimitedEvent(answer: RateLimitAnswer): RateLimitedEvent {
  plainObject('answer', answer);
  const status = answer.status === undefined ? 429 : finiteNumber('status', answer.status);
  if (answer.admittedAt !== undefined) finiteNumber('admittedAt', answer.admittedAt);
  return { status, retryAfterMs: answer.retryAfterMs, pauseMs: rateLimitPauseMs(answer) };
}

function nonNegativeOrInfinite(value: number): number {
  return value === Number.POSITIVE_INFINITY ? value : nonNegativeNumber('maxPauseMs', value);
}
