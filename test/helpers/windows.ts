/** The most starts in any half-open interval `[t, t + windowMs)`, from sorted or unsorted times. */
export function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** The largest sum of `amount` over starts in any half-open interval `[t, t + windowMs)`. */
export function maxSumInAnyWindow(
  entries: readonly { readonly start: number; readonly amount: number }[],
  windowMs: number,
): number {
  const sorted = [...entries].sort((a, b) => a.start - b.start);
  let best = 0;
  let sum = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    sum += (sorted[hi] as { amount: number }).amount;
    while ((sorted[hi] as { start: number }).start - (sorted[lo] as { start: number }).start >= windowMs) {
      sum -= (sorted[lo] as { amount: number }).amount;
      lo++;
    }
    best = Math.max(best, sum);
  }
  return best;
}
