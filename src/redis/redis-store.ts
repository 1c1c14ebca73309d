import { TypedEmitter } from 'tiny-typed-emitter';
import type { Cost, ResolvedLimits } from '../core/vocabulary.js';
import type { Clock } from '../internal/clock.js';
import { messageOf } from '../internal/message-of.js';
import type { AdmitResult, LimiterStore, RemainingReport, StoreEntry, StoreUsage } from '../stores/store.js';
import { admitArgs, parseAdmitReply, type AdmitReply } from './admit-protocol.js';
import { type Booking, Bookings } from './bookings.js';
import { LocalEntry, RedisEntry } from './entries.js';
import { isOutage, RedisStoreError } from './errors.js';
import type { RedisStoreEvents } from './events.js';
import { LeaseRenewal } from './lease-renewal.js';
import {
  quotaKeys,
  resolveRedisOptions,
  type OutagePolicy,
  type QuotaKeys,
  type RedisStoreOptions,
  type ResolvedRedisOptions,
} from './options.js';
import { OutageKeeper } from './outage-policy.js';
import { ScriptRunner } from './script-runner.js';
import { SharedOthers } from './others-share.js';
import { ADMIT, ADMIT_STATUS, LEARN_OTHERS, PAUSE, RECONCILE, RESTAMP, RESTORE } from './scripts.js';
import { UsageSnapshot } from './usage-snapshot.js';
import { ignore, RedisWrites } from './writes.js';
import { EMPTY_LAYOUT, layoutOf, type WindowLayout } from './window-layout.js';
import { SLACK_US, us } from './wire.js';

/**
 * A `LimiterStore` that keeps a quota's windows in Redis, so every limiter using the same `key`
 * (in any process, on any machine) shares one set of limits:
 * `new Limiter({ requests, store: new RedisStore({ client, key: 'openai' }) })` (the README's Redis
 * section says more).
 * - Limits stay in each limiter's configuration (give every process the same); Redis holds the log
 *   of starts, token charges, concurrency leases, the pause and others' learned shares.
 * - Each admission is one Lua script run on the server's clock; a caller that must wait gets a
 *   booked future slot in that same call, which every process counts at once. Only the head of
 *   each limiter's queue talks to Redis. Leases expire after `leaseTtlMs` unless renewed.
 * - Without Redis (no answer within `commandTimeoutMs`) the `onStoreError` policy applies, with
 *   `outage` and `recovered` events around it.
 * - `usage()` is a snapshot taken at this store's latest admission; during a `'local'` outage, the
 *   local books. `close()` stops the store's timers; it never quits the client.
 */
export class RedisStore extends TypedEmitter<RedisStoreEvents> implements LimiterStore {
  /** Windows are measured with Redis's `TIME`, the one clock every process shares. */
  readonly ownClock = true;
  readonly #options: ResolvedRedisOptions;
  readonly #runner: ScriptRunner;
  readonly #keys: QuotaKeys;
  readonly #admitKeys: readonly string[];
  #limits: ResolvedLimits | undefined = undefined;
  #layout: WindowLayout = EMPTY_LAYOUT;
  #peers = 0;
  readonly #snapshot = new UsageSnapshot();
  readonly #others: SharedOthers;
  /** The latest pause this store knows of (its own, or one Redis reported), on the limiter's clock. */
  #pausedUntil = 0;

  readonly #bookings = new Bookings();
  readonly #leases: LeaseRenewal;
  readonly #outage: OutageKeeper;
  readonly #writes: RedisWrites;

  constructor(options: RedisStoreOptions) {
    super();
    this.#options = resolveRedisOptions(options);
    this.#runner = new ScriptRunner(this.#options.client, this.#options.commandTimeoutMs);
    this.#keys = quotaKeys(this.#options.prefix, this.#options.key);
    const k = this.#keys;
    this.#admitKeys = [k.log, k.amt, k.conc, k.pause, k.clock, k.peers, k.others];
    this.#others = new SharedOthers([k.log, k.amt, k.others, k.clock], (keys, args, onReply) =>
      this.#writes.write('learnOthersShare', LEARN_OTHERS, keys, args, onReply, true),
    );
    this.#outage = new OutageKeeper({
      options: this.#options,
      runner: this.#runner,
      probeKey: this.#keys.clock,
      peers: () => this.#peers,
      cleanUp: (drop, release) => this.#writes.forgetQuietly(drop, release),
      recharge: (id, cost) => void this.#recharge(id, cost).catch(ignore),
      restore: (args) =>
        void this.#writes
          .write('restore', RESTORE, [k.log, k.amt, k.conc, k.clock], args, undefined, true)
          .catch(ignore),
      leases: { held: () => this.#leases.held(), hold: (id) => this.#leases.hold(id) },
      newId: () => this.#bookings.newId(),
      lastSeen: (now) => this.#lastSeen(now),
      outage: (event) => this.emit('outage', event),
      recovered: (event) => this.emit('recovered', event),
    });
    this.#leases = new LeaseRenewal({
      runner: this.#runner,
      keys: this.#keys,
      leaseTtlMs: this.#options.leaseTtlMs,
      inOutage: () => this.#outage.active,
      enterOutage: (error) => this.#outage.enter(error),
    });
    this.#writes = new RedisWrites(this.#runner, [k.log, k.amt, k.conc], this.#leases, this.#outage);
  }

  /** The quota key this store serves. */
  get key(): string {
    return this.#options.key;
  }

  /** The Redis keys of the quota (all in one hash slot). */
  get keys(): QuotaKeys {
    return this.#keys;
  }

  /** `'redis'` normally; `'outage'` while Redis cannot be reached and `onStoreError` applies. */
  get state(): 'redis' | 'outage' {
    return this.#outage.active ? 'outage' : 'redis';
  }

  /** The outage policy in force. */
  get policy(): OutagePolicy {
    return this.#options.onStoreError;
  }

  /**
   * Records the limits (sent with every admission, never read back from Redis) and the limiter's
   * clock, which times commands, probes and renewals and converts Redis's times to the limiter's.
   */
  configure(limits: ResolvedLimits, clock: Clock): void {
    if (limits.spend.length > 0) {
      throw new TypeError(
        'RedisStore does not keep `spend` budgets (its scripts count requests and tokens): give the spend budget a limiter of its own with the default store',
      );
    }
    this.#runner.clock = clock;
    this.#limits = limits;
    this.#layout = layoutOf(limits);
    this.#snapshot.reconfigure();
    this.#outage.configure(limits);
  }

  /**
   * Admits `cost` in one Redis call, or books the earliest slot every limit allows and answers its
   * time; at that time the next call for the same `waiter` starts it without asking Redis again.
   * Answers synchronously when no Redis call is needed (a booking coming due, a known pause, an
   * outage policy); never throws synchronously.
   */
  admit(cost: Cost, now: number, waiter?: object): AdmitResult | Promise<AdmitResult> {
    if (this.#pausedUntil > now) return this.#pausedUntil;
    const booking = this.#bookings.get(waiter);
    if (booking?.booked === true) {
      if (now < booking.at) return booking.at;
      // The slot was booked (and, with concurrency, its lease taken) in one call: every process
      // already counts it, so it starts now without asking Redis again.
      if (!this.#options.confirmBookings && now - booking.at <= this.#layout.lateMs) {
        this.#bookings.delete(waiter);
        return new RedisEntry(booking.at, booking.id, booking.leased, booking.recent);
      }
    }
    if (this.#outage.active) {
      if (booking !== undefined) this.#abandon(waiter as object, booking);
      return this.#outage.admit(cost, now);
    }
    const held = booking?.booked === true ? undefined : this.#outage.holdsBack(cost, now);
    if (held !== undefined) return held;
    return this.#admitRemote(cost, now, waiter, booking);
  }

  /**
   * When `cost` could start at the earliest, from what this store knows without asking Redis: not
   * during a pause, and not before the latest slot Redis booked for it (new entries never start
   * before the newest one). So a caller queued behind a booked wait, with a `timeoutMs` shorter
   * than it, is rejected at once. During an outage, the policy's answer.
   */
  earliest(cost: Cost, now: number): number {
    if (this.#outage.active) return this.#outage.earliest(cost, now);
    return Math.max(now, this.#pausedUntil, this.#bookings.newestStart);
  }

  /** The waiter left the queue: its booked slot (and lease) is given back. */
  withdraw(waiter: object): void {
    const booking = this.#bookings.get(waiter);
    if (booking === undefined) return;
    this.#bookings.delete(waiter);
    // The answer still on the wire may book a slot: its handler gives it back.
    if (booking.inflight) booking.withdrawn = true;
    // Nobody to tell if this fails: the slot then leaves with its window.
    else if (booking.booked) {
      this.#bookings.givenBack(booking.at, booking.recent);
      this.#writes.forgetQuietly([booking.id], []);
    }
  }

  /** Replaces the entry's token charge in Redis (once it is back, during an outage), or in the local books. */
  reconcile(entry: StoreEntry, cost: Cost, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.reconcileLocal(entry, cost, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled) return undefined;
    if (entry.recent !== undefined) entry.recent.cost = cost;
    if (this.#outage.active) return this.#outage.pendingRecharge(entry.id, cost);
    return this.#recharge(entry.id, cost);
  }

  #recharge(id: string, cost: Cost): Promise<void> {
    return this.#writes.write(
      'reconcile',
      RECONCILE,
      [this.#keys.log, this.#keys.amt],
      [id, `${cost.input}`, `${cost.output}`],
    );
  }

  /**
   * Counts the entry from `at` instead of its admission, in Redis (on its clock: `now - at` before
   * the script runs), so every process counts the request from when it reached the provider.
   */
  restamp(entry: StoreEntry, at: number, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.restampLocal(entry, at, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled || this.#outage.active) return undefined;
    if (entry.recent !== undefined) entry.recent.at = at;
    return this.#writes.write(
      'restamp',
      RESTAMP,
      [this.#keys.log, this.#keys.amt, this.#keys.clock],
      [entry.id, us(now - at)],
    );
  }

  /** Others' share of a window, learned in Redis (in order: admissions sent after count it). */
  learnOthersShare(report: RemainingReport, now: number): number {
    if (this.#outage.active) return this.#outage.local.learnOthersShare(report, now);
    return this.#others.learn(report, now, this.#limits);
  }

  /** Removes the entry's start, tokens and lease: the request was never sent. */
  cancel(entry: StoreEntry, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.cancelLocal(entry, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled) return undefined;
    entry.cancelled = true;
    this.#bookings.givenBack(entry.start, entry.recent);
    // One call gives back the slot, the tokens and the lease; the release that follows sends nothing.
    if (entry.leased && !entry.released) {
      entry.leaseFreed = true;
      this.#leases.forget(entry.id);
      this.#leases.stopIfIdle();
    }
    return this.#writes.forget([entry.id], []);
  }

  /** Frees the entry's concurrency lease (nothing to send when there is no concurrency limit). */
  release(entry: StoreEntry, _now?: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.releaseLocal(entry);
    if (!(entry instanceof RedisEntry) || entry.released) return undefined;
    entry.released = true;
    if (!entry.leased || entry.leaseFreed) return undefined;
    this.#leases.forget(entry.id);
    this.#leases.stopIfIdle();
    return this.#writes.forget([], [entry.id]);
  }

  /** Holds admissions in every process sharing the key until `until`; never shortens a longer pause. */
  pause(until: number, now: number): void | Promise<void> {
    if (until <= now) return undefined;
    if (until > this.#pausedUntil) this.#pausedUntil = until;
    // Also held locally: admissions from the local share, and no Redis call while it lasts.
    this.#outage.local.pause(until);
    if (this.#outage.active) return undefined;
    return this.#writes.write(
      'pause',
      PAUSE,
      [this.#keys.pause, this.#keys.clock],
      [us(until - now), String(SLACK_US)],
    );
  }

  /**
   * Window use as of this store's latest admission (Redis is not asked: `stats()` is synchronous),
   * counting slots booked by waiting callers; under `'local'` during an outage, the local books.
   */
  usage(now: number): StoreUsage {
    return this.#outage.usage(now) ?? this.#lastSeen(now);
  }

  #lastSeen(now: number): StoreUsage {
    return this.#snapshot.usage(this.#limits?.requests ?? [], this.#layout.tokenWindows, this.#pausedUntil, now);
  }

  /**
   * Stops renewing leases and probing Redis, and resolves once the writes already sent are answered
   * or timed out, so the client can be closed right after. Leases still held expire after
   * `leaseTtlMs` unless released. The client is left open: it belongs to the caller.
   */
  async close(): Promise<void> {
    this.#leases.close();
    this.#outage.close();
    await this.#runner.settled();
  }

  async #admitRemote(
    cost: Cost,
    now: number,
    waiter: object | undefined,
    previous: Booking | undefined,
  ): Promise<AdmitResult> {
    // A stale booking (or one to confirm) goes back to Redis under its own id.
    const replace = previous?.booked === true && !this.#options.confirmBookings;
    if (previous?.recent !== undefined) previous.recent.gone = true;
    const booking = this.#bookings.open(waiter, previous);
    const o = this.#options;
    const concurrency = this.#layout.limited ? this.#limits?.concurrency : undefined;
    const { peer } = this.#bookings;
    const args = admitArgs(
      { id: booking.id, cost, mayBook: waiter !== undefined, replace, concurrency, peer },
      o,
      this.#layout,
    );
    booking.inflight = true;
    const clock = this.#runner.clock;
    const sent = clock.now();
    let reply: unknown;
    try {
      reply = await this.#runner.run(ADMIT, this.#admitKeys, args);
    } catch (error) {
      booking.inflight = false;
      this.#bookings.delete(waiter);
      if (!isOutage(error)) {
        if (booking.booked) this.#writes.forgetQuietly([booking.id], []);
        throw new RedisStoreError('admit', messageOf(error), { cause: error });
      }
      // The script may have run before the connection failed: whatever it took is given back later.
      this.#writes.orphan(booking.id);
      this.#outage.enter(error);
      return this.#outage.admit(cost, now);
    }
    booking.inflight = false;
    const received = now + (clock.now() - sent);
    let r: AdmitReply;
    try {
      r = parseAdmitReply(reply);
    } catch (error) {
      this.#bookings.delete(waiter);
      throw error;
    }
    // Server times to the limiter's clock, as if the script ran when the answer arrived: waits end
    // no earlier than the server meant, whichever way the network delay fell.
    const local = (t: number): number => received + (t - r.now) / 1_000;
    this.#peers = r.peers;
    this.#snapshot.record(r);
    if (r.paused > r.now) this.#pausedUntil = Math.max(this.#pausedUntil, local(r.paused));

    // As configured now: the limits may have changed while the call was on the wire.
    const limited = this.#layout.limited;
    // A replaced or refused booking no longer holds the lease it may have had.
    if (previous?.leased === true) {
      this.#leases.forget(booking.id);
      booking.leased = false;
    }
    switch (r.status) {
      case ADMIT_STATUS.admitted: {
        this.#bookings.delete(waiter);
        if (limited) this.#leases.hold(booking.id);
        const recent = this.#outage.admitted(booking.id, local(r.at), cost, received);
        // A caller that left meanwhile gets this entry cancelled and released by the limiter.
        return new RedisEntry(local(r.at), booking.id, limited, recent);
      }
      case ADMIT_STATUS.booked: {
        this.#bookings.book(booking, local(r.at));
        booking.recent = this.#outage.admitted(booking.id, booking.at, cost, received);
        booking.leased = limited && !o.confirmBookings;
        if (booking.leased) this.#leases.hold(booking.id);
        if (booking.withdrawn) {
          this.#bookings.givenBack(booking.at, booking.recent);
          this.#writes.forgetQuietly([booking.id], []);
        }
        return booking.at;
      }
      case ADMIT_STATUS.wait:
        booking.booked = false;
        this.#leases.stopIfIdle();
        return local(r.at);
      default:
        this.#bookings.delete(waiter);
        this.#leases.stopIfIdle();
        throw new RedisStoreError(
          'admit',
          `a cost of ${cost.input + cost.output} tokens exceeds a whole budget of quota "${o.key}"`,
        );
    }
  }

  /** A waiter's booking cannot be used during an outage: its slot is given back once Redis returns. */
  #abandon(waiter: object, booking: Booking): void {
    this.#bookings.delete(waiter);
    if (!booking.booked) return;
    this.#bookings.givenBack(booking.at, booking.recent);
    this.#writes.orphan(booking.id);
  }
}
