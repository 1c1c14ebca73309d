/**
 * Small helpers shared by the core benchmark: statistics over measured samples, a strict
 * sliding-window checker over start times, garbage collection and markdown formatting.
 */

/** True when `BENCH_QUICK=1`: a dry run with shorter real-time phases and fewer samples. */
export const QUICK = process.env.BENCH_QUICK === '1';

const gcFunction = (globalThis as { gc?: () => void }).gc;

/** True when the process runs with `--expose-gc` (as `npm run bench` starts it). */
export const canCollect = gcFunction !== undefined;

/**
 * A full collection, twice: the second pass frees what the first one's weak callbacks and
 * finalizers released, so heap figures measured right after are not inflated by leftovers.
 */
export function collect(): void {
  if (gcFunction === undefined) return;
  gcFunction();
  gcFunction();
}

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Lets pending microtasks and immediates run (a library's deferred bookkeeping, say). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Calls `submit` `count` times, one call per event-loop turn. A job a library admits at once then
 * starts (and its start is recorded) before the next submission, instead of after a long
 * synchronous loop of submissions: the recorded starts measure the limiter, not the time the
 * submitting loop kept the event loop busy after the limiter had already counted those starts.
 */
export async function submitEach(count: number, submit: () => void): Promise<void> {
  for (let i = 0; i < count; i++) {
    submit();
    await settle();
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile, `p` in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface WindowCheck {
  /** The most starts in any half-open window `[t, t + windowMs)`. */
  readonly max: number;
  /** How many windows `[s, s + windowMs)`, one anchored at each start `s`, hold more than `limit`. */
  readonly violations: number;
  /** The shortest span from a start to the `limit`-th start after it (11 starts for a limit of 10), or Infinity. */
  readonly tightestMs: number;
}

/**
 * A strict sliding-window check. The busiest half-open window always begins at some start, so
 * anchoring one window at every start finds the maximum exactly; two pointers keep it linear.
 */
export function checkWindows(startTimes: readonly number[], windowMs: number, limit: number): WindowCheck {
  const starts = [...startTimes].sort((a, b) => a - b);
  let max = 0;
  let violations = 0;
  let end = 0;
  for (let i = 0; i < starts.length; i++) {
    const from = starts[i] as number;
    if (end < i) end = i;
    while (end < starts.length && (starts[end] as number) < from + windowMs) end++;
    const count = end - i;
    if (count > max) max = count;
    if (count > limit) violations++;
  }
  let tightestMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i + limit < starts.length; i++) {
    const span = (starts[i + limit] as number) - (starts[i] as number);
    if (span < tightestMs) tightestMs = span;
  }
  return { max, violations, tightestMs };
}

export type Verdict = 'PASS' | 'MISS';

export function verdict(ok: boolean): Verdict {
  return ok ? 'PASS' : 'MISS';
}

/** One goal of the benchmark and how this run did against it, for the summary table. */
export interface GoalResult {
  readonly goal: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

/** What each section of the core benchmark hands back. */
export interface SectionResult {
  readonly markdown: string;
  readonly goals: readonly GoalResult[];
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export function fixed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'n/a' : '∞';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ns(value: number): string {
  return `${fixed(value, 0)} ns`;
}

export function ms(value: number, digits = 2): string {
  return `${fixed(value, digits)} ms`;
}

export function bytes(value: number): string {
  return `${fixed(value, 0)} B`;
}

export function percent(fraction: number): string {
  return `${fixed(fraction * 100, 1)} %`;
}

/** Why a figure might be off: printed under a table rather than silently ignored. */
export function gcNote(): string {
  return canCollect
    ? ''
    : '\n\n> `global.gc` was not available (run with `--expose-gc`): heap figures and round-to-round stability suffer.';
}

/** The goals of a section as a markdown table. */
export function goalsTable(goals: readonly GoalResult[]): string {
  return table(
    ['goal', 'measured', 'result'],
    goals.map((g) => [g.goal, g.measured, g.verdict]),
  );
}

export const noop = (): void => {};
export const asyncNoop = (): Promise<void> => Promise.resolve();
