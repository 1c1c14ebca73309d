import type { WindowKind } from './vocabulary.js';

/**
 * Base class of every error forestall throws on purpose. Catch `ForestallError` to handle all of
 * them; check `name` (a literal per subclass) or `instanceof` to tell them apart.
 */
export class ForestallError extends Error {
  override readonly name: string = 'ForestallError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Which budget a cost was measured against. */
export type BudgetName = WindowKind | 'concurrency';

/**
 * A cost that can never fit: it is larger than a budget's whole limit, so waiting would never end.
 * Thrown at once instead of queueing, and to waiters whose cost a lowered limit made impossible.
 */
export class CapacityError extends ForestallError {
  override readonly name = 'CapacityError' as const;
  /** The budget that cannot hold the cost. */
  readonly budget: BudgetName;
  /** What the request asked for in that budget. */
  readonly requested: number;
  /** The budget's limit per window. */
  readonly limit: number;

  constructor(budget: BudgetName, requested: number, limit: number, options?: { cause?: unknown }) {
    super(`A cost of ${requested} ${budget} can never fit: the ${budget} limit is ${limit} per window`, options);
    this.budget = budget;
    this.requested = requested;
    this.limit = limit;
  }
}

/** The limiter's queue already holds `maxQueue` waiters. */
export class QueueFullError extends ForestallError {
  override readonly name = 'QueueFullError' as const;
  readonly maxQueue: number;

  constructor(maxQueue: number) {
    super(`The limiter's queue is full (maxQueue ${maxQueue})`);
    this.maxQueue = maxQueue;
  }
}

/** `timeoutMs` passed before every limit admitted the caller (or the wait was known to exceed it). */
export class AcquireTimeoutError extends ForestallError {
  override readonly name = 'AcquireTimeoutError' as const;
  readonly timeoutMs: number;
  /** How long the caller had waited when it was rejected (0 when rejected at once). */
  readonly waitedMs: number;

  constructor(timeoutMs: number, waitedMs: number) {
    super(
      waitedMs === 0
        ? `Acquire would wait longer than timeoutMs ${timeoutMs}`
        : `Acquire timed out after ${Math.round(waitedMs)} ms (timeoutMs ${timeoutMs})`,
    );
    this.timeoutMs = timeoutMs;
    this.waitedMs = waitedMs;
  }
}

/** The limiter was closed: every waiter is rejected with this, and so is every later acquire. */
export class LimiterClosedError extends ForestallError {
  override readonly name = 'LimiterClosedError' as const;

  constructor() {
    super('The limiter is closed');
  }
}

/**
 * Why `retry` gave up:
 * - `not-retryable`: the failure is one another attempt cannot fix (or `shouldRetry` said so);
 * - `exhausted`: `maxAttempts` attempts were made;
 * - `retry-after-too-long`: the server asked to wait longer than `maxRetryAfterMs`;
 * - `deadline`: `deadlineMs` passed, or the next retry could not start before it;
 * - `budget`: the shared `RetryBudget` had no retries left.
 */
export type RetryStopReason = 'not-retryable' | 'exhausted' | 'retry-after-too-long' | 'deadline' | 'budget';

/**
 * A call failed for good after retries: `attempts` made, every attempt's error in `errors`, the
 * last one as `cause`, and why it stopped in `reason`. `retryAfterMs` is set when the server named
 * a delay longer than allowed.
 */
export class RetryError extends ForestallError {
  override readonly name = 'RetryError' as const;
  /** Why no further attempt was made. */
  readonly reason: RetryStopReason;
  readonly attempts: number;
  readonly errors: readonly unknown[];
  readonly retryAfterMs: number | undefined;
  /** HTTP status of the last failure, when there was one. */
  readonly status: number | undefined;

  constructor(
    message: string,
    fields: {
      reason: RetryStopReason;
      attempts: number;
      errors: readonly unknown[];
      retryAfterMs?: number;
      status?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: fields.cause });
    this.reason = fields.reason;
    this.attempts = fields.attempts;
    this.errors = fields.errors;
    this.retryAfterMs = fields.retryAfterMs;
    this.status = fields.status;
  }
}

/**
 * The reason `acquireAny` aborts a candidate's wait with once another candidate admitted: the
 * candidate's `rejected` event then says `withdrawn`, not `aborted`. Internal.
 */
export class CandidateWithdrawn extends Error {
  override readonly name = 'CandidateWithdrawn' as const;

  constructor() {
    super('another candidate admitted');
  }
}
