import { knownKeys, nonNegativeNumber, plainObject } from '../internal/validate.js';

/** Options of `new RetryBudget(options)`. The defaults are the AWS SDKs' retry quota. */
export interface RetryBudgetOptions {
  /** Tokens the budget holds when full (and starts with). @default 500 */
  readonly capacity?: number | undefined;
  /** Tokens one retry takes. @default 5 */
  readonly retryCost?: number | undefined;
  /** Tokens one retry after a timeout or a connection failure takes. @default 10 */
  readonly timeoutCost?: number | undefined;
  /** Tokens a call that succeeded at its first attempt gives back. @default 1 */
  readonly successRefill?: number | undefined;
}

/** Which cost a retry pays: `timeout` for timeouts and connection failures, `retry` for the rest. */
export type RetryCostKind = 'retry' | 'timeout';

const KEYS = ['capacity', 'retryCost', 'timeoutCost', 'successRefill'] as const;

/**
 * A token bucket of retries shared by many calls (`retry(fn, { budget })`), like the AWS SDKs'
 * retry quota. Every retry takes tokens; successes put them back. While most calls succeed it
 * never runs dry; when a dependency fails for everyone, retries stop after a while instead of
 * multiplying the load on it, and calls fail at their first error until successes refill it.
 *
 * A call that succeeds after retries gives back the cost of its last retry; one that succeeds at
 * its first attempt gives back `successRefill`.
 */
export class RetryBudget {
  /** Tokens when full. */
  readonly capacity: number;
  /** Tokens one retry takes. */
  readonly retryCost: number;
  /** Tokens one retry after a timeout or a connection failure takes. */
  readonly timeoutCost: number;
  /** Tokens a first-attempt success gives back. */
  readonly successRefill: number;
  #available: number;

  constructor(options: RetryBudgetOptions = {}) {
    plainObject('RetryBudget options', options);
    knownKeys('RetryBudget options', options, KEYS);
    this.capacity = nonNegativeNumber('capacity', options.capacity ?? 500);
    this.retryCost = nonNegativeNumber('retryCost', options.retryCost ?? 5);
    this.timeoutCost = nonNegativeNumber('timeoutCost', options.timeoutCost ?? 10);
    this.successRefill = nonNegativeNumber('successRefill', options.successRefill ?? 1);
    this.#available = this.capacity;
  }

  /** Tokens left. */
  get available(): number {
    return this.#available;
  }

  /** What a retry of this kind costs. */
  costOf(kind: RetryCostKind): number {
    return kind === 'timeout' ? this.timeoutCost : this.retryCost;
  }

  /** Takes the cost of one retry; returns `false`, taking nothing, when too few tokens are left. */
  tryWithdraw(kind: RetryCostKind): boolean {
    const cost = this.costOf(kind);
    if (cost > this.#available) return false;
    this.#available -= cost;
    return true;
  }

  /**
   * Records a successful call: gives back `lastRetryCost` when the call needed retries (the cost of
   * the retry that succeeded), else `successRefill`. Never fills beyond `capacity`.
   */
  recordSuccess(lastRetryCost?: number): void {
    const refill = lastRetryCost !== undefined && lastRetryCost > 0 ? lastRetryCost : this.successRefill;
    this.#available = Math.min(this.capacity, this.#available + refill);
  }
}
