/** `12,345`: whole numbers with thousands separators, the same on every locale. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `850 ms`, `4.2 s`, `3m 05s`, `2h 07m`: short and stable in width. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 3_600) return `${Math.floor(totalSeconds / 60)}m ${String(totalSeconds % 60).padStart(2, '0')}s`;
  const totalMinutes = Math.round(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h ${String(totalMinutes % 60).padStart(2, '0')}m`;
}

/** A rate with one decimal below 100, none above: `7.5/s`, `240/s`. */
export function formatRate(perSecond: number): string {
  return `${perSecond < 100 ? perSecond.toFixed(1) : formatCount(perSecond)}/s`;
}
