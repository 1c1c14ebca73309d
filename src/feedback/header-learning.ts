import type { OthersShareEvent } from '../core/events.js';
import { type ResolvedLimits, WINDOW_KINDS, type WindowKind, type WindowLimit } from '../core/vocabulary.js';
import type { RateLimitSnapshot } from '../providers/types.js';
import type { LimiterStore } from '../stores/store.js';

/** The limits in force, as header learning reads them. */
export interface LimitsInForce {
  /** The limits of each kind now. */
  readonly resolved: ResolvedLimits;
  /** Whether the user set limits of `kind` (announced ones never replace them). */
  userSet(kind: WindowKind): boolean;
}

/** The window OpenAI-style headers mean when they do not say (they carry no window). */
const ASSUMED_WINDOW_MS = 60_000;

/**
 * The limits a snapshot announces that the limiter should adopt: kinds the user did not set, with
 * a usable limit that differs from the one in force.
 */
export function announcedLimits(
  snapshot: RateLimitSnapshot,
  limits: LimitsInForce,
): Partial<Record<WindowKind, WindowLimit>> {
  const adopted: Partial<Record<WindowKind, WindowLimit>> = {};
  for (const kind of WINDOW_KINDS) {
    const window = snapshot[kind];
    if (window?.limit === undefined || limits.userSet(kind)) continue;
    const limit = kind === 'requests' ? Math.floor(window.limit) : window.limit;
    const windowMs = window.windowMs ?? ASSUMED_WINDOW_MS;
    if (!(limit >= 1) || !Number.isFinite(limit) || !(windowMs > 0) || !Number.isFinite(windowMs)) continue;
    const current = limits.resolved[kind];
    if (current.length === 1 && current[0]?.limit === limit && current[0].windowMs === windowMs) continue;
    adopted[kind] = { limit, windowMs };
  }
  return adopted;
}

/**
 * Hands what the server says remains of each window to the store, which learns others' share of
 * the quota from it. Returns the shares in force, for the `othersShare` event.
 */
export function learnOthersShares(
  store: Required<Pick<LimiterStore, 'learnOthersShare'>>,
  snapshot: RateLimitSnapshot,
  limits: LimitsInForce,
  since: number,
  now: number,
  refused: boolean,
): OthersShareEvent[] {
  const learned: OthersShareEvent[] = [];
  for (const kind of WINDOW_KINDS) {
    const window = snapshot[kind];
    const remaining = window?.remaining;
    if (remaining === undefined || !(remaining >= 0) || !Number.isFinite(remaining)) continue;
    const windowMs = window?.windowMs ?? matchingOrLongestWindowMs(limits, kind, window?.windowMs);
    // Others go on using the quota after what the server reported has cleared: hold their share
    // one window beyond the reset (later responses refresh it while they still show it).
    const resetMs = (window?.resetMs ?? windowMs) + windowMs;
    const limit = window?.limit;
    const amount = store.learnOthersShare(
      {
        kind,
        windowMs: window?.windowMs,
        ...(limit !== undefined && Number.isFinite(limit) && { limit }),
        ...(window?.resetMs !== undefined && { resetAt: now + Math.max(0, window.resetMs) }),
        remaining,
        since: Math.min(since, now),
        until: now + Math.max(0, resetMs),
        refused,
      },
      now,
    );
    if (amount > 0) learned.push({ kind, amount, remaining });
  }
  return learned;
}

/** Whether the snapshot says what remains of any window (so a store could learn others' share). */
export function reportsRemaining(snapshot: RateLimitSnapshot): boolean {
  return WINDOW_KINDS.some((kind) => snapshot[kind]?.remaining !== undefined);
}

/** The length of the limiter's window of `kind` that a report about `windowMs` applies to. */
function matchingOrLongestWindowMs(limits: LimitsInForce, kind: WindowKind, windowMs: number | undefined): number {
  const windows = limits.resolved[kind];
  if (windows.length === 0) return ASSUMED_WINDOW_MS;
  const exact = windows.find((w) => w.windowMs === windowMs);
  return exact?.windowMs ?? Math.max(...windows.map((w) => w.windowMs));
}
