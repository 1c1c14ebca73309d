import type { RemainingReport } from './store.js';

/*
 * How a store reads a `RemainingReport` (`learnOthersShare`), whatever keeps its windows: which of
 * its windows the report is about, how long what it shows holds, and the headroom a 429 adds.
 */

/** The window whose length is `windowMs`, else the longest (a per-minute limit, say, when unknown). */
export function closestWindow<W extends { windowMs: number }>(
  windows: readonly W[],
  windowMs: number | undefined,
): W | undefined {
  let best: W | undefined;
  for (const w of windows) {
    if (w.windowMs === windowMs) return w;
    if (best === undefined || w.windowMs > best.windowMs) best = w;
  }
  return best;
}

/** What a report shows of a window with `limit`, and until when it holds. */
export interface ReportHold {
  /**
   * The report is about a limit other than the window's (the server's 60 per 10 s matched to a
   * user's 360 per minute): it shows what the server enforces until its reset, not what others use
   * over this window, so it holds no longer, or the user's rate would fall to the server's.
   */
  readonly foreign: boolean;
  readonly until: number;
}

export function reportHold(report: RemainingReport, limit: number, now: number): ReportHold {
  const foreign = report.limit !== undefined && report.limit !== limit;
  return { foreign, until: foreign ? Math.min(report.until, report.resetAt ?? now) : report.until };
}

/** The most headroom 429s that got through add to others' share of a request window: a tenth of it. */
export function refusalHeadroom(limit: number): number {
  return Math.max(1, Math.floor(limit / 10));
}
