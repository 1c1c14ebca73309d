import { TypedEmitter } from 'tiny-typed-emitter';
import type { Cost, ResolvedLimits } from '../core/vocabulary.js';
import type { Clock } from '../internal/clock.js';
import { isThenable } from '../internal/is-thenable.js';
import type {
  AdmitResult,
  BatchRequest,
  LimiterStore,
  MaybePromise,
  RemainingReport,
  StoreEntry,
  StoreUsage,
} from '../stores/store.js';
import { type Booking, Bookings, droppedBooking } from './bookings.js';
import { LocalEntry, RedisEntry } from './entries.js';
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
import { RemoteAdmit } from './remote-admit.js';
import { ScriptRunner } from './script-runner.js';
import { SharedOthers } from './others-share.js';
import { LEARN_OTHERS, PAUSE, RECONCILE, RESTAMP, RESTORE } from './scripts.js';
import { UsageSnapshot } from './usage-snapshot.js';
import { type WrittenBack, writeBackArgs } from './recent-admissions.js';
import { type Dropped, ignore, RedisWrites, unplaced } from './writes.js';
import { EMPTY_LAYOUT, layoutOf, type WindowLayout } from './window-layout.js';
import { SLACK_US, us } from './wire.js';

/**
 * A `LimiterStore` that keeps a quota's windows in Redis, so every limiter using the same `key`
 * (in any process, on any machine) shares one set of limits:
 * `new Limiter({ requests, store: new RedisStore({ client, key: 'openai' }) })` (the README's Redis
 * section says more).
 * - Limits stay in each limiter's configuration (give every process the same); Redis holds the log
 *   of starts of the windows under an hour, the buckets of longer ones, token charges,
 *   concurrency leases, the pause and others' learned shares (lua/prelude.ts says how).
 * - One Lua script run on the server's clock admits the head of a limiter's queue and those behind
 *   it (`admitMany`), in order; a caller that must wait gets a booked future slot in that same
 *   call, which every process counts at once. Leases expire after `leaseTtlMs` unless renewed.
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
  #limits: ResolvedLimits | undefined = undefined;
  #layout: WindowLayout = EMPTY_LAYOUT;
  #peers = 0;
  /** Book slots only on entries that can no longer move (`expectRestamps`). */
  #settledOnly = false;
  readonly #snapshot = new UsageSnapshot();
  readonly #others: SharedOthers;
  /** The latest pause this store knows of (its own, or one Redis reported), on the limiter's clock. */
  #pausedUntil = 0;

  readonly #bookings = new Bookings();
  readonly #leases: LeaseRenewal;
  readonly #outage: OutageKeeper;
  readonly #writes: RedisWrites;
  readonly #remote: RemoteAdmit;

  constructor(options: RedisStoreOptions) {
    super();
    this.#options = resolveRedisOptions(options);
    this.#runner = new ScriptRunner(this.#options.client, this.#options.commandTimeoutMs);
    this.#keys = quotaKeys(this.#options.prefix, this.#options.key);
    const k = this.#keys;
    this.#others = new SharedOthers([k.log, k.state, k.others], (keys, args, onReply) =>
      this.#writes.write('learnOthersShare', LEARN_OTHERS, keys, args, onReply, true),
    );
    this.#outage = new OutageKeeper({
      options: this.#options,
      runner: this.#runner,
      probeKey: this.#keys.state,
      peers: () => this.#peers,
      cleanUp: (drop, release) => this.#writes.forgetQuietly(drop.map(unplaced), release),
      recharge: (belief, cost, sure) => void this.#recharge(belief, cost, sure).catch(ignore),
      restore: (entries, leases, now) => this.#restore(entries, leases, now),
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
    this.#writes = new RedisWrites(
      this.#runner,
      [k.log, k.conc, k.state],
      () => [...this.#layout.groups, this.#layout.keep],
      this.#leases,
      this.#outage,
    );
    this.#remote = new RemoteAdmit({
      options: this.#options,
      runner: this.#runner,
      keys: [k.log, k.conc, k.state, k.peers, k.others],
      bookings: this.#bookings,
      leases: this.#leases,
      outage: this.#outage,
      writes: this.#writes,
      layout: () => this.#layout,
      concurrency: () => this.#limits?.concurrency,
      settledOnly: () => this.#settledOnly,
      heard: (r, local) => {
        if (r.peers >= 0) this.#peers = r.peers;
        this.#snapshot.record(r);
        if (r.paused > r.now) this.#pausedUntil = Math.max(this.#pausedUntil, local(r.paused));
      },
    });
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
        return new RedisEntry(booking.at, booking.id, booking.leased, booking.recent, booking.serverAt, cost);
      }
    }
    if (this.#outage.active) {
      if (booking !== undefined) this.#abandon(waiter as object, booking);
      return this.#outage.admit(cost, now);
    }
    const held = booking?.booked === true ? undefined : this.#outage.holdsBack(cost, now);
    if (held !== undefined) return held;
    return this.#remote.admit([{ cost, waiter }], now).then((answers) => answers[0] as AdmitResult);
  }

  /**
   * Admits several waiters in one Redis call, in order: those admitted, then the first that is not
   * (booked a slot, or told when to ask again); those after it are not looked at. A head with a
   * booking, a known pause, an outage or the grace after one: the head alone, as `admit` answers.
   */
  admitMany(requests: readonly BatchRequest[], now: number): MaybePromise<readonly AdmitResult[]> {
    const head = requests[0];
    if (head === undefined) return [];
    const plain = (r: BatchRequest): boolean => this.#bookings.get(r.waiter) === undefined;
    if (
      requests.length === 1 ||
      !plain(head) ||
      this.#pausedUntil > now ||
      this.#outage.active ||
      this.#outage.holdingBack(now)
    ) {
      const one = this.admit(head.cost, now, head.waiter);
      return isThenable(one) ? one.then((answer) => [answer]) : [one];
    }
    let n = 1;
    while (n < requests.length && plain(requests[n] as BatchRequest)) n++;
    return this.#remote.admit(n === requests.length ? requests : requests.slice(0, n), now);
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

  /**
   * The limiter's leases will be counted from when their requests arrive: no slot is booked on an
   * entry admitted less than half its window ago (its restamp may still move it later); the caller
   * asks again when the room would come instead.
   */
  expectRestamps(): void {
    this.#settledOnly = true;
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
      this.#writes.forgetQuietly([droppedBooking(booking)], []);
    }
  }

  /** Replaces the entry's token charge in Redis (once it is back, during an outage), or in the local books. */
  reconcile(entry: StoreEntry, cost: Cost, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.reconcileLocal(entry, cost, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled) return undefined;
    if (entry.recent !== undefined) entry.recent.cost = cost;
    const belief = entry.dropped;
    // Sent in order (or once Redis is back): the next correction starts from this one.
    entry.charged = cost;
    if (this.#outage.active) return this.#outage.pendingRecharge(belief, cost);
    return this.#recharge(belief, cost, true);
  }

  #recharge(belief: Dropped, cost: Cost, sure: boolean): Promise<void> {
    const l = this.#layout;
    const args = [...l.groups, l.keep, belief.id, `${cost.input}`, `${cost.output}`, `${cost.spend ?? 0}`];
    args.push(String(belief.at), String(belief.input), String(belief.output), String(belief.spend), sure ? '1' : '0');
    return this.#writes.write('reconcile', RECONCILE, [this.#keys.log, this.#keys.state], args);
  }

  /**
   * Counts the entry from `at` instead of its admission, in Redis (on its clock: `now - at` before
   * the script runs), so every process counts the request from when it reached the provider.
   */
  restamp(entry: StoreEntry, at: number, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#outage.restampLocal(entry, at, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled || this.#outage.active) return undefined;
    if (entry.recent !== undefined) entry.recent.at = at;
    const l = this.#layout;
    const { at: serverAt, input, output, spend } = entry.dropped;
    const args = [...l.groups, l.keep, l.longest, String(SLACK_US), entry.id, us(now - at)];
    args.push(String(serverAt), String(input), String(output), String(spend));
    // Where Redis will count it from, as this store can tell (its bucket, should the log drop it).
    if (at > entry.countsFrom) {
      entry.serverAt += Math.round((at - entry.countsFrom) * 1_000);
      entry.countsFrom = at;
    }
    return this.#writes.write('restamp', RESTAMP, [this.#keys.log, this.#keys.state], args);
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
    return this.#writes.forget([entry.dropped], []);
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
    return this.#writes.write('pause', PAUSE, [this.#keys.state], [us(until - now), String(SLACK_US)]);
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

  /** Writes back admissions Redis may have lost, in order; each learns the generation that now counts it. */
  #restore(entries: readonly WrittenBack[], leases: readonly string[], now: number): void {
    const l = this.#layout;
    const head = [...l.groups, l.keep, l.longest, us(this.#options.leaseTtlMs), String(SLACK_US)];
    const k = this.#keys;
    for (const call of writeBackArgs(entries, leases, now, head)) {
      const heard = (reply: unknown): void => {
        const born = Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
        if (Number.isFinite(born)) for (const e of call.entries) e.generation = born;
      };
      void this.#writes.write('restore', RESTORE, [k.log, k.conc, k.state], call.args, heard, true).catch(ignore);
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
