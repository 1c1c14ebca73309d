import type { Clock } from '../internal/clock.js';
import type { BlockingWindow } from '../core/diagnosis.js';
import type { Cost, PerWindowKind, ResolvedLimits, WindowKind, WindowUsage } from '../core/vocabulary.js';

export type { BlockingWindow } from '../core/diagnosis.js';

/** A store's record of one admitted request; the limiter treats it as opaque. */
export interface StoreEntry {
  /** When the request counts from, on the limiter's clock (its admission, or a restamp). */
  readonly start: number;
}

/** What a server said remains of one limit, for `LimiterStore.learnOthersShare`. */
export interface RemainingReport {
  readonly kind: WindowKind;
  /** The window the server's limit applies to; the store uses its window closest to it. */
  readonly windowMs: number | undefined;
  /** What the server said is left. */
  readonly remaining: number;
  /**
   * The limit the server reported, when it did. One that differs from the store's window it is
   * matched to is a limit of the server's own (another window, or a user's limit below or above
   * it): what it shows holds only until `resetAt`, demonstrably, never a window beyond.
   */
  readonly limit?: number | undefined;
  /** When the server said it is back to full (now plus its reset), when it said. */
  readonly resetAt?: number | undefined;
  /**
   * When the request that carried the report was sent: the server answered at some moment since,
   * so our use is taken at its highest over that time.
   */
  readonly since: number;
  /** When the server will be back to full: others' usage is forgotten by then. */
  readonly until: number;
  /**
   * The server refused the request for its limit although the limiter admitted it: what was
   * learned of others fell short. A request window with nothing remaining adds a request of
   * headroom to the share in force (at most a tenth of its limit, kept while the share lasts), or
   * takes others to have used one when no share is in force.
   */
  readonly refused?: boolean | undefined;
}

/**
 * The answer to an admission: the new entry, or the time (on the limiter's clock) at which the
 * cost could start if nothing else changes; `Infinity` when only a release can make room.
 */
export type AdmitResult = StoreEntry | number;

/** One waiter's admission in a batch (`admitMany`). */
export interface BatchRequest {
  readonly cost: Cost;
  /** The caller, as `admit`'s `waiter`: the same object each time it is asked about. */
  readonly waiter: object;
}

/** A value, or a promise of it: the memory store answers synchronously, a remote one does not. */
export type MaybePromise<T> = T | Promise<T>;

/** What a store reports for `limiter.stats()`. */
export interface StoreUsage extends PerWindowKind<readonly WindowUsage[]> {
  readonly inFlight: number;
  /** On the limiter's clock; 0 when not paused. */
  readonly pausedUntil: number;
}

/**
 * Where a limiter's window state lives. The limiter owns the queue, the timer and the leases; the
 * store only answers "may this cost start now, and if not, when?" and keeps the books.
 *
 * Which methods may answer with a promise:
 * - `admit`, `admitMany`, `reconcile`, `cancel`, `release`, `restamp`, `pause` and `close` may (a
 *   remote store answers later); the limiter awaits at most one admission answer at a time (one
 *   `admit`, or one `admitMany` for several waiters) and reports failed writes as `storeError` events.
 * - `configure`, `earliest`, `withdraw`, `learnOthersShare` and `usage` must answer at once: the
 *   limiter reads their result in the same turn (`stats()` is synchronous).
 *
 * A store declares what it can do: `synchronous: true` (every method answers at once) gives the
 * limiter its fast path and makes `tryAcquire` work; each optional method it leaves out is a
 * capability it lacks, which `storeCapabilities(store)` lists and the limiter reports when an
 * option needs it. `forestall/testing` exports `storeConformance()` to check a store against this
 * contract.
 */
export interface LimiterStore {
  /**
   * `true`: every method answers at once, never with a promise. The limiter then admits without
   * waiting a turn and `tryAcquire()` can return leases. A store that says so and returns a
   * promise anyway fails that call with a `TypeError` (the waiter is rejected, never left hanging).
   * @default false
   */
  readonly synchronous?: boolean | undefined;
  /**
   * `true`: the store measures windows with a clock of its own (Redis's `TIME`), not the `now` it is
   * given, so a fake clock cannot drive it; times it returns are still on the limiter's clock.
   * @default false
   */
  readonly ownClock?: boolean | undefined;
  /**
   * Sets or replaces the limits. Existing entries are kept and counted against the new limits. At
   * once. `clock` is the limiter's: a store that keeps time or timers of its own (timeouts, probes,
   * renewals) uses it, so a fake clock drives them too.
   */
  configure(limits: ResolvedLimits, clock: Clock): void;
  /**
   * Admits `cost` now if every limit allows it, taking all of them at once; otherwise returns when
   * it could start. `waiter` identifies the caller across calls, so a store may book a future slot
   * for it and honour the booking on the next call.
   */
  admit(cost: Cost, now: number, waiter?: object): MaybePromise<AdmitResult>;
  /**
   * Optional: admits several waiters, in the order given (the queue's: priority, then arrival), in one
   * round trip. Answers one result for each of a prefix of them (at least the first): an entry for each
   * admitted, and for the first that is not, when it could start (as `admit` answers: a booked slot's
   * time, a time to ask again, or Infinity); nothing for those after it, which stay queued behind it
   * unasked. A request is never admitted when one before it was not. A store may answer fewer than
   * it was given (all admitted) when it stops early for its own reasons. The limiter calls it only
   * on a store that is not `synchronous`, with two or more requests (one goes to `admit`); an answer
   * that breaks this shape fails every waiter asked with a `TypeError`.
   */
  admitMany?(requests: readonly BatchRequest[], now: number): MaybePromise<readonly AdmitResult[]>;
  /**
   * When `cost` could start, without taking anything (`now` if at once). At once. Optional: a store
   * that cannot answer cheaply leaves it out, and the limiter then skips its early timeout check
   * (a wait that cannot end before `timeoutMs` is rejected at the deadline instead of at once).
   */
  earliest?(cost: Cost, now: number): number;
  /** The waiter left the queue: forget any slot booked for it. At once. Optional (no bookings). */
  withdraw?(waiter: object): void;
  /** Replaces the entry's token charge; the entry keeps its start time. */
  reconcile(entry: StoreEntry, cost: Cost, now: number): MaybePromise<void>;
  /** The request was never sent: removes its request slot and tokens from every window. */
  cancel(entry: StoreEntry, now: number): MaybePromise<void>;
  /** Frees the entry's concurrency slot. */
  release(entry: StoreEntry, now: number): MaybePromise<void>;
  /**
   * Counts the entry from `at` (later than its admission, no later than `now`) instead of its
   * admission: the provider counted the request when it arrived, which is no later than when its
   * response headers came back. Optional: without it a request counts from its admission.
   */
  restamp?(entry: StoreEntry, at: number, now: number): MaybePromise<void>;
  /**
   * The server says how much remains. When that is less than the store believes, someone else uses
   * the same quota: the difference becomes the others' share of the matching window, held until
   * `report.until` (the largest still in force applies; a later, smaller one never extends it).
   * Returns the share in force (0 if none learned). At once. Optional: without it the limiter cannot learn others' use of a shared quota.
   */
  learnOthersShare?(report: RemainingReport, now: number): number;
  /**
   * The limiter's leases will be counted from when their requests arrive (`restamp`, as the fetch
   * wrapper's `countFrom` does): a store that books future slots books them only on entries that
   * can no longer move. At once. Optional (a hint).
   */
  expectRestamps?(): void;
  /** No admissions before `until`; never shortens a longer pause. */
  pause(until: number, now: number): MaybePromise<void>;
  /** Window use at `now`. At once. */
  usage(now: number): StoreUsage;
  /**
   * The windows that do not admit `cost` now, each with its use and when it makes room. At once.
   * Optional: without it `limiter.diagnose()` names the windows over their limit from `usage`,
   * without when they free.
   */
  blocking?(cost: Cost, now: number): readonly BlockingWindow[];
  /** Frees resources (connections, timers). */
  close?(): MaybePromise<void>;
}
