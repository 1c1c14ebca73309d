import {
  type Cost,
  perWindowKind,
  type ResolvedLimits,
  type ResolvedWindow,
  TOKEN_WINDOW_KINDS,
  WINDOW_KIND_TABLE,
} from '../core/vocabulary.js';

/**
 * A share of the limits, for admitting from memory while Redis is out. Request limits and
 * concurrency are rounded down (a process must not take more than its share) but never below one,
 * or a process with a small share could admit nothing at all.
 */
export function shareOf(limits: ResolvedLimits, share: number): ResolvedLimits {
  const whole = (windows: readonly ResolvedWindow[]): ResolvedWindow[] =>
    windows.map((w) => ({ limit: Math.max(1, Math.floor(w.limit * share)), windowMs: w.windowMs }));
  const part = (windows: readonly ResolvedWindow[]): ResolvedWindow[] =>
    windows.map((w) => ({ limit: w.limit * share, windowMs: w.windowMs }));
  return {
    ...perWindowKind((kind) => (WINDOW_KIND_TABLE[kind].whole ? whole(limits[kind]) : part(limits[kind]))),
    concurrency: Number.isFinite(limits.concurrency)
      ? Math.max(1, Math.floor(limits.concurrency * share))
      : Number.POSITIVE_INFINITY,
    marginMs: limits.marginMs,
  };
}

const smallest = (windows: readonly ResolvedWindow[]): number =>
  windows.reduce((m, w) => Math.min(m, w.limit), Number.POSITIVE_INFINITY);

/**
 * A cost scaled down to fit the local share's smallest budgets. The limiter only lets through
 * costs that fit the full limits; a cost larger than this process's share would otherwise wait
 * until Redis comes back. Scaled, it is admitted once the local window is (nearly) empty: the
 * whole local budget, and no more than one such request per window.
 */
export function fitCost(cost: Cost, local: ResolvedLimits): Cost {
  let factor = 1;
  const limit = (amount: number, budget: number): void => {
    if (amount > budget) factor = Math.min(factor, budget / amount);
  };
  for (const kind of TOKEN_WINDOW_KINDS) limit(WINDOW_KIND_TABLE[kind].charge(cost), smallest(local[kind]));
  if (factor === 1) return cost;
  // A hair below the budget, so rounding cannot leave the scaled cost a hair above it.
  factor *= 1 - 1e-9;
  return { input: cost.input * factor, output: cost.output * factor };
}
