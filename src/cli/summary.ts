import type { Limiter } from '../limiter/limiter.js';
import type { LimitOptions, WindowLimit } from '../core/vocabulary.js';
import { formatCount, formatDuration } from './format.js';
import type { InterruptSignal } from './interrupt.js';

/** What `forestall batch` did, for the summary at the end. */
export interface BatchSummary {
  readonly input: string;
  readonly out: string;
  /** Requests this run had to send. */
  readonly todo: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Requests skipped because the results file had them already. */
  readonly skipped: number;
  readonly badLines: number;
  readonly retries: number;
  /** 429 answers received. */
  readonly rateLimited: number;
  /** HTTP requests sent, retries included. */
  readonly sent: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly elapsedMs: number;
  /** The most requests the limits allowed during the run (see `allowedDuring`); undefined when not known. */
  readonly allowedRequests: number | undefined;
  /** The most tokens the limits allowed during the run; undefined when not known. */
  readonly allowedTokens: number | undefined;
  /** Set when a signal stopped the run. */
  readonly interrupted?: InterruptSignal | undefined;
  /** Requests in flight when a second interrupt quit at once; they are sent again on resume. */
  readonly abandoned?: number | undefined;
  /** With `--max-spend`: what the run spent, the budget, and whether it ran out. */
  readonly spend?: { readonly spent: number; readonly limit: number; readonly stopped: boolean } | undefined;
}

/**
 * The most a limiter's windows of one kind let start in `elapsedMs` from a standing start: each
 * window admits its whole `limit` at once, then again every `windowMs` (a sliding window cannot do
 * better). Undefined when the limiter has no such window.
 */
function allowedBy(limits: LimitOptions, kind: 'requests' | 'tokens', elapsedMs: number): number | undefined {
  const windows = limits[kind];
  if (windows === undefined) return undefined;
  const list: readonly WindowLimit[] = Array.isArray(windows) ? windows : [windows as WindowLimit];
  if (list.length === 0) return undefined;
  return Math.min(...list.map((w) => w.limit * Math.max(1, Math.ceil(elapsedMs / w.windowMs))));
}

/**
 * What the limits allowed during a run of `elapsedMs`, summed over the limiters (each model has a
 * quota of its own); undefined when a limiter does not know its limit.
 */
export function allowedDuring(
  limiters: readonly Limiter[],
  kind: 'requests' | 'tokens',
  elapsedMs: number,
): number | undefined {
  if (limiters.length === 0) return undefined;
  let sum = 0;
  for (const limiter of limiters) {
    const allowed = allowedBy(limiter.limits, kind, elapsedMs);
    if (allowed === undefined) return undefined;
    sum += allowed;
  }
  return sum;
}

function against(used: number, allowed: number | undefined, unit: string, elapsedMs: number): string {
  const base = `${formatCount(used)} ${unit} in ${formatDuration(elapsedMs)} (${formatCount((used * 60_000) / elapsedMs)}/min)`;
  if (allowed === undefined) return `${base}; the limit is not known`;
  return `${base}; the limits allowed ${formatCount(allowed)} in that time: ${Math.round((used / allowed) * 100)}%`;
}

/** An amount in the user's currency: four significant digits below 1, cents above. */
function formatSpend(amount: number): string {
  return amount >= 1 ? amount.toFixed(2) : amount.toPrecision(4);
}

/** The summary printed at the end of `forestall batch`, as lines. */
export function formatBatchSummary(s: BatchSummary): string {
  const done = s.succeeded + s.failed;
  const head = s.spend?.stopped
    ? `forestall batch: stopped at the spend budget (--max-spend ${s.spend.limit}) after ${formatCount(done)} of ${formatCount(s.todo)} requests in ${formatDuration(s.elapsedMs)}; run again with a higher --max-spend to resume`
    : s.interrupted
      ? `forestall batch: interrupted (${s.interrupted}) after ${formatCount(done)} of ${formatCount(s.todo)} requests in ${formatDuration(s.elapsedMs)}; run the same command again to resume`
      : `forestall batch: ${formatCount(done)} of ${formatCount(s.todo)} requests done in ${formatDuration(s.elapsedMs)}`;
  const rows: [string, string][] = [
    ['succeeded', formatCount(s.succeeded)],
    [
      'failed',
      `${formatCount(s.failed)}${s.failed > 0 ? ` (see "error" or a non-2xx "status_code" in ${s.out})` : ''}`,
    ],
    ['already done', `${formatCount(s.skipped)} (in ${s.out}, skipped)`],
    ['bad lines', `${formatCount(s.badLines)}${s.badLines > 0 ? ' (skipped, listed above)' : ''}`],
    ['retries', formatCount(s.retries)],
    ['429s', formatCount(s.rateLimited)],
    ['requests sent', formatCount(s.sent)],
    [
      'tokens used',
      `${formatCount(s.inputTokens + s.outputTokens)} (${formatCount(s.inputTokens)} in, ${formatCount(s.outputTokens)} out)`,
    ],
    ['elapsed', formatDuration(s.elapsedMs)],
  ];
  if (s.elapsedMs > 0 && s.sent > 0) {
    rows.push(['request rate', against(s.sent, s.allowedRequests, 'requests', s.elapsedMs)]);
    rows.push(['token rate', against(s.inputTokens + s.outputTokens, s.allowedTokens, 'tokens', s.elapsedMs)]);
  }
  if (s.spend !== undefined) {
    const { spent, limit } = s.spend;
    rows.push(['spend', `${formatSpend(spent)} of ${formatSpend(limit)} (${Math.round((spent / limit) * 100)}%)`]);
  }
  if (s.abandoned !== undefined && s.abandoned > 0) {
    rows.push(['abandoned', `${formatCount(s.abandoned)} in flight (sent again on resume)`]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return `${[head, ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)].join('\n')}\n`;
}
