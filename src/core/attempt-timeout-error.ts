import { ForestallError } from './errors.js';

/**
 * The reason an attempt's `signal` is aborted with when `attemptTimeoutMs` (or the call's
 * `deadlineMs`) runs out. An attempt that timed out is retried (unless it was the deadline);
 * it appears in `RetryError.errors` as this error.
 */
export class AttemptTimeoutError extends ForestallError {
  override readonly name = 'AttemptTimeoutError' as const;
  /** The attempt that was running, or about to start, when time ran out (1 for the first). */
  readonly attempt: number;
  /** The option that ran out. */
  readonly option: 'attemptTimeoutMs' | 'deadlineMs';
  /** That option's value. */
  readonly timeoutMs: number;

  constructor(attempt: number, option: 'attemptTimeoutMs' | 'deadlineMs', timeoutMs: number) {
    super(
      option === 'attemptTimeoutMs'
        ? `Attempt ${attempt} timed out after ${timeoutMs} ms (attemptTimeoutMs)`
        : `The deadline of ${timeoutMs} ms (deadlineMs) passed`,
    );
    this.attempt = attempt;
    this.option = option;
    this.timeoutMs = timeoutMs;
  }
}
