import type { OthersShareEvent } from '../core/events.js';
import {
  PROVIDER_WINDOW_KINDS,
  type ProviderWindowKind,
  type ResolvedLimits,
  type WindowKind,
  type WindowLimit,
} from '../core/vocabulary.js';
import { providerSpec, type RateLimitSnapshot } from '../providers/types.js';
import type { LimiterStore } from '../stores/store.js';

/** The limits in force, as header learning reads them. */
export interface LimitsInForce {
  /** The limits of each kind now. */
  readonly resolved: ResolvedLimits;
  /** Whether the user set limits of `kind` (announced ones never replace them). */
  userSet(kind: WindowKind): boolean;
}

/** The window of a limit nothing says anything about: no convention, no reset ever reported. */
const ASSUMED_WINDOW_MS = 60_000;

/** The windows a limit whose window is not stated is read as: the shortest the resets allow. */
const STANDARD_WINDOWS_MS = [1_000, 10_000, 60_000, 3_600_000, 86_400_000] as const;

/**
 * The window a limit applies to when its headers do not state it, in this order: the provider's
 * known window for it (its module's `assumeWindowMs`: Azure's minute); else the shortest of 1 s,
 * 10 s, 1 min, 1 h and 1 day that holds the longest reset the server reported for it ("time until
 * back to full" is never longer than the window); else a minute.
 */
export function unstatedWindowMs(
  snapshot: RateLimitSnapshot,
  kind: ProviderWindowKind,
  longestResetMs: number | undefined,
): number {
  const known = providerSpec(snapshot.provider)?.headers.limits[kind]?.assumeWindowMs;
  if (known !== undefined) return known;
  if (longestResetMs === undefined || !(longestResetMs > 0)) return ASSUMED_WINDOW_MS;
  // A hundredth of slack: a reset rounded up past a 10 s window is still the 10 s window.
  const fits = STANDARD_WINDOWS_MS.find((w) => w * 1.01 >= longestResetMs);
  return fits ?? (STANDARD_WINDOWS_MS.at(-1) as number);
}

/**
 * The limits a snapshot announces that the limiter should adopt: kinds the user did not set, with
 * a usable limit that differs from the one in force.
 */
export function announcedLimits(
  snapshot: RateLimitSnapshot,
  limits: LimitsInForce,
  longestResetMs: Partial<Record<WindowKind, number>> = {},
): Partial<Record<WindowKind, WindowLimit>> {
  const adopted: Partial<Record<WindowKind, WindowLimit>> = {};
  for (const kind of PROVIDER_WINDOW_KINDS) {
    const window = snapshot[kind];
    if (window?.limit === undefined || limits.userSet(kind)) continue;
    const limit = kind === 'requests' ? Math.floor(window.limit) : window.limit;
    const windowMs = window.windowMs ?? unstatedWindowMs(snapshot, kind, longestResetMs[kind]);
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
  for (const kind of PROVIDER_WINDOW_KINDS) {
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
  return PROVIDER_WINDOW_KINDS.some((kind) => snapshot[kind]?.remaining !== undefined);
}

/** The length of the limiter's window of `kind` that a report about `windowMs` applies to. */
function matchingOrLongestWindowMs(limits: LimitsInForce, kind: WindowKind, windowMs: number | undefined): number {
  const windows = limits.resolved[kind];
  if (windows.length === 0) return ASSUMED_WINDOW_MS;
  const exact = windows.find((w) => w.windowMs === windowMs);
  return exact?.windowMs ?? Math.max(...windows.map((w) => w.windowMs));
}
