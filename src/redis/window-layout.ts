import {
  type ResolvedLimits,
  type ResolvedWindow,
  TOKEN_WINDOW_KINDS,
  type TokenWindowKind,
} from '../core/vocabulary.js';
import { BUCKETED_FROM_MS, BUCKETS_PER_WINDOW } from '../windows/bucketed-token-window.js';
import { us } from './wire.js';

/** Stores seen in this long (or the longest window, if longer) count for `localShare: 'auto'`. */
const PEER_HORIZON_MS = 60_000;

/**
 * How long the log keeps entries when every window is bucketed (otherwise: the longest exact
 * window): a booking coming due, a resend, a restamp, a reconcile or a cancel of a recent entry
 * then finds it there.
 */
const LOG_KEEP_BUCKETED_MS = 10_000;

/** One token window with its kind, in the order the admit script numbers token windows. */
export interface TokenWindowRef {
  readonly kind: TokenWindowKind;
  readonly window: ResolvedWindow;
}

/**
 * The limits as the scripts take them, worked out once per `configure` rather than on every
 * admission, with the timings the store derives from the same windows.
 */
export interface WindowLayout {
  /** The windows' part of the admit script's ARGV: the bucket groups, the request and the token windows. */
  readonly args: readonly string[];
  /** The bucket groups, as every script that changes an entry takes them first. */
  readonly groups: readonly string[];
  /** How long the log keeps an entry (microseconds, as the scripts take it). */
  readonly keep: string;
  /** The longest window, margin included (microseconds). */
  readonly longest: string;
  /** The token windows, in the order of `args` (and of the usage the script answers). */
  readonly tokenWindows: readonly TokenWindowRef[];
  /** A concurrency limit is set: admissions take leases. */
  readonly limited: boolean;
  /** How late a booking may come due and still start at its booked slot. */
  readonly lateMs: number;
  /** How long a store that used the key still counts as a peer, for `localShare: 'auto'`. */
  readonly peerHorizonMs: number;
}

/** Before `configure`: no windows, no concurrency. */
export const EMPTY_LAYOUT: WindowLayout = {
  args: ['0', '0', '0'],
  groups: ['0'],
  keep: us(LOG_KEEP_BUCKETED_MS),
  longest: '0',
  tokenWindows: [],
  limited: false,
  lateMs: 1_000,
  peerHorizonMs: PEER_HORIZON_MS,
};

/**
 * The width (microseconds, as a string) of the buckets of a window of `windowMs` (an hour or more,
 * as the memory store buckets them), or '0' for a window kept exact in the log.
 */
export function bucketWidth(windowMs: number, marginMs: number): string {
  if (windowMs < BUCKETED_FROM_MS) return '0';
  return String(Math.floor(Math.round((windowMs + marginMs) * 1_000) / BUCKETS_PER_WINDOW));
}

/** Lays out `limits` for the scripts (spans include the margin). */
export function layoutOf(limits: ResolvedLimits): WindowLayout {
  const margin = limits.marginMs;
  const tokenWindows: TokenWindowRef[] = [];
  for (const kind of TOKEN_WINDOW_KINDS) {
    for (const window of limits[kind]) tokenWindows.push({ kind, window });
  }
  const all = [...limits.requests, ...tokenWindows.map((t) => t.window)];
  // One bucket group per span of an hour or more; 0 names the exact log.
  const widths: string[] = [];
  const spans: string[] = [];
  const group = (w: ResolvedWindow): string => {
    const width = bucketWidth(w.windowMs, margin);
    if (width === '0') return '0';
    if (!widths.includes(width)) {
      widths.push(width);
      spans.push(us(w.windowMs + margin));
    }
    return String(widths.indexOf(width) + 1);
  };
  const windows: string[] = [String(limits.requests.length)];
  for (const w of limits.requests) windows.push(String(w.limit), us(w.windowMs + margin), group(w));
  windows.push(String(tokenWindows.length));
  for (const { kind, window } of tokenWindows) {
    // The script's dimension: 0 = input + output, 1 = input, 2 = output (the table's order).
    const dim = TOKEN_WINDOW_KINDS.indexOf(kind);
    windows.push(String(dim), String(window.limit), us(window.windowMs + margin), group(window));
  }
  const groups = [String(widths.length)];
  for (const [g, width] of widths.entries()) groups.push(width, spans[g] as string);
  const exact = all.filter((w) => w.windowMs < BUCKETED_FROM_MS);
  const keepMs = exact.length > 0 ? Math.max(...exact.map((w) => w.windowMs + margin)) : LOG_KEEP_BUCKETED_MS;
  const shortest = all.reduce((m, w) => Math.min(m, w.windowMs), Number.POSITIVE_INFINITY);
  const longest = all.reduce((m, w) => Math.max(m, w.windowMs + margin), 0);
  return {
    args: [...groups, ...windows],
    groups,
    keep: us(keepMs),
    longest: us(longest),
    tokenWindows,
    limited: Number.isFinite(limits.concurrency),
    // A booking that comes due much later than its slot no longer says when the request started:
    // a quarter of the shortest window is far beyond timer jitter and well inside any window.
    lateMs: Number.isFinite(shortest) ? Math.min(1_000, Math.max(25, shortest / 4)) : 1_000,
    peerHorizonMs: Math.max(PEER_HORIZON_MS, longest),
  };
}
