import type { Cost } from '../core/vocabulary.js';

/** How each limiter tells when a cost could start, for `acquireAny` (kept off the public API). */
const ESTIMATES = new WeakMap<object, (cost: Cost) => number | undefined>();

/** Called by each limiter as it is made. */
export function registerStartEstimate(limiter: object, estimate: (cost: Cost) => number | undefined): void {
  ESTIMATES.set(limiter, estimate);
}

/**
 * The earliest `cost` could start on `limiter`, on its clock, as far as it knows at once: a lower
 * bound (callers queued ahead may go first); undefined when its store cannot tell.
 */
export function earliestStart(limiter: object, cost: Cost): number | undefined {
  return ESTIMATES.get(limiter)?.(cost);
}
