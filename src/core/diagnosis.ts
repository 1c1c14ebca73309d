import type { Cost, WindowKind } from './vocabulary.js';

/** One window that does not admit a cost now, for `limiter.diagnose()`. */
export interface BlockingWindow {
  readonly kind: WindowKind;
  readonly windowMs: number;
  readonly limit: number;
  /** This store's use of the window now (others' share not included). */
  readonly used: number;
  /** What others were seen to use of it (learned from the provider), held now. */
  readonly othersShare: number;
  /** What the cost needs of it: 1 request, or its tokens of this kind. */
  readonly needs: number;
  /** When it has room for the cost if nothing else changes, on the limiter's clock. */
  readonly freesAt: number;
}

/** What holds a caller back: one entry of `diagnose().head.blockedBy` (and of the `queued` and `acquired` events). */
export type Block =
  /** A window that has no room for the cost: its use, others' share, and when it makes room (when the store says). */
  | ({ readonly type: 'window' } & Omit<BlockingWindow, 'freesAt'> & {
        readonly freesAt: number | undefined;
        readonly freesInMs: number | undefined;
      })
  /** Every concurrency slot is held (`adaptive`: the cap adaptive concurrency found). */
  | { readonly type: 'concurrency'; readonly limit: number; readonly inFlight: number; readonly adaptive: boolean }
  /** A pause: after a 429 this limiter saw (`rate-limited`), or `pause()` (here or, with a shared store, elsewhere). */
  | {
      readonly type: 'pause';
      readonly until: number;
      readonly forMs: number;
      readonly reason: 'rate-limited' | 'paused';
    }
  /** Repeated 429s slowed the pace: the next admission waits for the interval. */
  | { readonly type: 'pace'; readonly intervalMs: number; readonly until: number; readonly forMs: number }
  /** Until the provider's first answer (`limits: 'auto'`, the fetch wrapper's first request), one request at a time. */
  | { readonly type: 'first-contact' }
  /** An asynchronous store's answer is awaited (its admission is on the wire). */
  | { readonly type: 'store'; readonly admitting: boolean }
  /** Callers ahead of it in the queue (for a caller that is not the head). */
  | { readonly type: 'queue' };

/**
 * What `limiter.diagnose()` returns: for the head of the queue, how long it has waited and every
 * limit that does not admit it now (a window with its use, others' share and when it frees;
 * concurrency; a pause and why; the pace after repeated 429s; first contact; the store's answer on
 * the wire), and how many wait. A plain object, for logs and dashboards.
 * ```ts
 * const { head } = limiter.diagnose();
 * // head?.blockedBy: [{ type: 'window', kind: 'tokens', windowMs: 60000, limit: 30000, used: 29500,
 * //   othersShare: 0, needs: 1200, freesAt: 81234, freesInMs: 4100 }]
 * ```
 */
export interface Diagnosis {
  /** When, on the limiter's clock. */
  readonly at: number;
  /** Callers waiting, the head included. */
  readonly queued: number;
  /** Leases held. */
  readonly inFlight: number;
  /** The head of the queue, or undefined when nobody waits. */
  readonly head:
    | {
        readonly waitedMs: number;
        readonly priority: number;
        readonly tokens: Cost;
        /** What holds it back now; empty when it is being admitted or its timer is about to fire. */
        readonly blockedBy: readonly Block[];
        /** When it could start as far as the limiter knows at once (Infinity: when a lease is released). */
        readonly startsAt: number | undefined;
      }
    | undefined;
}
