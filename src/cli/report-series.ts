/**
 * The numbers behind the report's charts: buckets, sliding-window use, a histogram and nice axis
 * steps. Pure functions over the recorded times, so they are easy to test.
 */

/** Something that happened at `at` (ms from the start) and counts `amount`. */
export interface Point {
  readonly at: number;
  readonly amount: number;
}

/** Bucket widths the timeline may use: at least a second, so "per second" means what it says. */
const BUCKET_STEPS_MS = [
  1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
  7_200_000, 21_600_000, 43_200_000, 86_400_000,
];

/** The timeline has at most this many bars. */
export const MAX_BARS = 120;

/** Columns a sliding-window chart is drawn at (each the peak of its slice of time). */
export const SLIDING_COLUMNS = 800;

/** The narrowest bucket that keeps the timeline at or under {@link MAX_BARS} bars. */
export function bucketMs(elapsedMs: number): number {
  for (const step of BUCKET_STEPS_MS) if (elapsedMs / step <= MAX_BARS) return step;
  return Math.ceil(elapsedMs / MAX_BARS / 86_400_000) * 86_400_000;
}

/** The sum of `amount` in each bucket of `width` ms from 0, `count` buckets (later points go in the last). */
export function perBucket(points: readonly Point[], width: number, count: number): number[] {
  const sums = new Array<number>(Math.max(1, count)).fill(0);
  for (const p of points) {
    const i = Math.min(sums.length - 1, Math.max(0, Math.floor(p.at / width)));
    sums[i] = (sums[i] as number) + p.amount;
  }
  return sums;
}

/** Sliding-window use over a run: per column, the most the window held at any moment in it. */
export interface SlidingUse {
  readonly values: readonly number[];
  /** The width of a column, ms. */
  readonly columnMs: number;
  /** The most the window ever held. */
  readonly peak: number;
}

/**
 * What a window of `windowMs` held over time, as a sliding log counts it: at `t`, the amounts of
 * the points in `(t - windowMs, t]`. Exact at every change, kept per column as the column's peak,
 * so a short burst is never smoothed away.
 */
export function slidingUse(
  points: readonly Point[],
  windowMs: number,
  endMs: number,
  columns = SLIDING_COLUMNS,
): SlidingUse {
  const changes: [number, number][] = [];
  for (const p of points) changes.push([p.at, p.amount], [p.at + windowMs, -p.amount]);
  // At one instant, what leaves the window leaves before what enters counts.
  changes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const columnMs = Math.max(endMs, 1) / columns;
  const values = new Array<number>(columns).fill(0);
  let value = 0;
  let peak = 0;
  let i = 0;
  for (let c = 0; c < columns; c++) {
    const end = c === columns - 1 ? Number.POSITIVE_INFINITY : (c + 1) * columnMs;
    let max = value;
    for (; i < changes.length && (changes[i] as [number, number])[0] < end; i++) {
      value += (changes[i] as [number, number])[1];
      if (value > max) max = value;
    }
    values[c] = max;
    if (max > peak) peak = max;
  }
  return { values, columnMs, peak };
}

/** `1`, `2`, `5` times a power of ten: the nice step at or above `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** Axis ticks from 0 to at least `max`, about `target` of them. */
export function niceTicks(max: number, target = 5): { step: number; top: number; ticks: number[] } {
  const step = niceStep(Math.max(max, 1e-9) / target);
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { step, top, ticks };
}

/** Time-axis ticks: a nice step in seconds, minutes or hours. */
export function timeTicks(endMs: number, target = 8): number[] {
  const steps = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
  ];
  const step = steps.find((s) => endMs / s <= target) ?? Math.ceil(endMs / target / 86_400_000) * 86_400_000;
  const ticks: number[] = [];
  for (let t = 0; t <= endMs + 1e-9; t += step) ticks.push(t);
  return ticks;
}

/** Counts of `values` in bins of `width` from 0. */
export interface Histogram {
  readonly width: number;
  readonly counts: readonly number[];
}

/** A histogram of positive values in about `bins` nice-width bins. */
export function histogram(values: readonly number[], bins = 24): Histogram {
  const max = values.reduce((m, v) => Math.max(m, v), 0);
  const width = niceStep(max / bins);
  const counts = new Array<number>(Math.max(1, Math.floor(max / width) + 1)).fill(0);
  for (const v of values) {
    const i = Math.min(counts.length - 1, Math.floor(v / width));
    counts[i] = (counts[i] as number) + 1;
  }
  return { width, counts };
}

/** The `q` quantile (0..1) of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
