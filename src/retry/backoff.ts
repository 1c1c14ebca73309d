/** What {@link fullJitterDelay} needs besides the attempt number. */
export interface BackoffOptions {
  /** The ceiling for the first retry; it doubles with each attempt. */
  readonly baseDelayMs: number;
  /** No ceiling grows beyond this. */
  readonly maxDelayMs: number;
  /** A uniform random number in [0, 1). @default Math.random */
  readonly random?: (() => number) | undefined;
}

/**
 * The wait after failed attempt `attempt` (1 for the first), with full jitter:
 * `random(0, min(maxDelayMs, baseDelayMs * 2^(attempt - 1)))`, in whole milliseconds.
 * Full jitter spreads many clients that failed together over the whole interval, so they do not
 * come back in lockstep; under contention it does the least total work of the usual schemes.
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions): number {
  const { baseDelayMs, maxDelayMs } = options;
  // The exponent is clamped so a large attempt number gives the cap, not Infinity * 0 = NaN.
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 1_000));
  const r = (options.random ?? Math.random)();
  if (typeof r !== 'number' || !(r >= 0 && r <= 1)) {
    throw new RangeError(`Expected \`random()\` to return a number in [0, 1), got \`${String(r)}\` (${typeof r})`);
  }
  // floor(r * (ceiling + 1)) reaches every whole value in [0, ceiling] with equal odds; min() guards r = 1.
  return Math.min(ceiling, Math.floor(r * (Math.floor(ceiling) + 1)));
}
