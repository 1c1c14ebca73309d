import {
  type ResolvedLimits,
  type ResolvedWindow,
  TOKEN_WINDOW_KINDS,
  type TokenWindowKind,
} from '../core/vocabulary.js';
import { us } from './wire.js';

/** Stores seen in this long (or the longest window, if longer) count for `localShare: 'auto'`. */
const PEER_HORIZON_MS = 60_000;

/** One token window with its kind, in the order the admit script numbers token windows. */
export interface TokenWindowRef {
  readonly kind: TokenWindowKind;
  readonly window: ResolvedWindow;
}

/**
 * The limits as the admit script takes them, worked out once per `configure` rather than on every
 * admission, with the timings the store derives from the same windows.
 */
export interface WindowLayout {
  /** The windows' part of the admit script's ARGV. */
  readonly args: readonly string[];
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
  args: ['0', '0'],
  tokenWindows: [],
  limited: false,
  lateMs: 1_000,
  peerHorizonMs: PEER_HORIZON_MS,
};

/** Lays out `limits` for the admit script (spans include the margin). */
export function layoutOf(limits: ResolvedLimits): WindowLayout {
  const margin = limits.marginMs;
  const args: string[] = [String(limits.requests.length)];
  for (const w of limits.requests) args.push(String(w.limit), us(w.windowMs + margin));
  const tokenWindows: TokenWindowRef[] = [];
  for (const kind of TOKEN_WINDOW_KINDS) {
    for (const window of limits[kind]) tokenWindows.push({ kind, window });
  }
  args.push(String(tokenWindows.length));
  for (const { kind, window } of tokenWindows) {
    // The script's dimension: 0 = input + output, 1 = input, 2 = output (the table's order).
    const dim = TOKEN_WINDOW_KINDS.indexOf(kind);
    args.push(String(dim), String(window.limit), us(window.windowMs + margin));
  }
  const all = [...limits.requests, ...tokenWindows.map((t) => t.window)];
  const shortest = all.reduce((m, w) => Math.min(m, w.windowMs), Number.POSITIVE_INFINITY);
  const longest = all.reduce((m, w) => Math.max(m, w.windowMs + margin), 0);
  return {
    args,
    tokenWindows,
    limited: Number.isFinite(limits.concurrency),
    // A booking that comes due much later than its slot no longer says when the request started:
    // a quarter of the shortest window is far beyond timer jitter and well inside any window.
    lateMs: Number.isFinite(shortest) ? Math.min(1_000, Math.max(25, shortest / 4)) : 1_000,
    peerHorizonMs: Math.max(PEER_HORIZON_MS, longest),
  };
}
