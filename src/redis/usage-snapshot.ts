import { perWindowKind, type ResolvedWindow, type WindowUsage } from '../core/vocabulary.js';
import type { StoreUsage } from '../stores/store.js';
import type { AdmitReply } from './admit-protocol.js';
import type { TokenWindowRef } from './window-layout.js';

/**
 * Window use as the admit script last reported it. `stats()` is synchronous, so `usage()` cannot
 * ask Redis: it answers what this store's latest admission saw, slots booked by waiting callers
 * included.
 */
export class UsageSnapshot {
  /** Per request window, then per token window in the order of the layout's `tokenWindows`. */
  #used: number[] = [];
  #inFlight = 0;

  /** New windows: the counts no longer line up with them (leases in use still do). */
  reconfigure(): void {
    this.#used = [];
  }

  /** Takes in an admit reply; one without usage (the windows were not evaluated) keeps the counts. */
  record(reply: AdmitReply): void {
    this.#used = reply.usage.length > 0 ? reply.usage : this.#used;
    this.#inFlight = reply.inFlight;
  }

  /** The snapshot per window kind, with `pausedUntil` as the store knows it. */
  usage(
    requests: readonly ResolvedWindow[],
    tokenWindows: readonly TokenWindowRef[],
    pausedUntil: number,
    now: number,
  ): StoreUsage {
    const used = this.#used;
    const make = (window: ResolvedWindow, index: number): WindowUsage => {
      const u = used[index] ?? 0;
      return { limit: window.limit, windowMs: window.windowMs, used: u, remaining: Math.max(0, window.limit - u) };
    };
    return {
      ...perWindowKind((kind) =>
        kind === 'requests'
          ? requests.map((w, i) => make(w, i))
          : tokenWindows.flatMap((t, i) => (t.kind === kind ? [make(t.window, requests.length + i)] : [])),
      ),
      inFlight: this.#inFlight,
      pausedUntil: pausedUntil > now ? pausedUntil : 0,
    };
  }
}
