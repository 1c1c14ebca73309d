import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TypedEmitter } from 'tiny-typed-emitter';
import { MemoryStore } from '../stores/memory-store.js';
import type { AdmitResult, LimiterStore, StoreEntry, StoreUsage } from '../stores/store.js';
import {
  type Cost,
  perWindowKind,
  type ResolvedLimits,
  type ResolvedWindow,
  TOKEN_WINDOW_KINDS,
  type TokenWindowKind,
  type WindowUsage,
} from '../core/vocabulary.js';
import { isOutage, RedisStoreError, RedisUnavailableError } from './errors.js';
import type { RedisStoreEvents } from './events.js';
import { fitCost, shareOf } from './local-share.js';
import {
  quotaKeys,
  resolveRedisOptions,
  type OutagePolicy,
  type QuotaKeys,
  type RedisStoreOptions,
  type ResolvedRedisOptions,
} from './options.js';
import { ScriptRunner } from './script-runner.js';
import { ADMIT, ADMIT_STATUS, FORGET, PAUSE, RECONCILE, RENEW, type RedisScript } from './scripts.js';

/** Added to every key's expiry, so a key outlives its last entry despite clock differences. */
const SLACK_US = 5_000_000;
/** Stores seen in this long (or the longest window, if longer) count for `localShare: 'auto'`. */
const PEER_HORIZON_MS = 60_000;
const FIRST_PROBE_MS = 100;
/** Ids sent per FORGET or RENEW call, well inside Lua's argument limits. */
const BATCH = 1_000;
/** Ids kept for clean-up after an outage; older ones simply expire with their windows. */
const MAX_PENDING = 10_000;

const us = (ms: number): string => String(Math.round(ms * 1_000));

/** An admission recorded in Redis. */
class RedisEntry implements StoreEntry {
  released = false;
  cancelled = false;
  /** The lease went with a cancel: the release that follows has nothing left to send. */
  leaseFreed = false;

  constructor(
    readonly start: number,
    readonly id: string,
    readonly leased: boolean,
  ) {}
}

/** An admission made from the local share during an outage; its books stay local. */
class LocalEntry implements StoreEntry {
  constructor(
    readonly start: number,
    readonly inner: StoreEntry,
  ) {}
}

/** An admission let through unrecorded during an outage under `onStoreError: 'open'`. */
class OpenEntry implements StoreEntry {
  constructor(readonly start: number) {}
}

/** What the store knows about one waiting caller across `admit` calls. */
interface Booking {
  readonly id: string;
  /** A future slot is booked in Redis. */
  booked: boolean;
  /** When the booked slot starts, on the limiter's clock. */
  at: number;
  /** The booking holds its concurrency lease. */
  leased: boolean;
  /** An admit call for it is on the wire. */
  inflight: boolean;
  /** The caller left while the call was on the wire: whatever it booked must be given back. */
  withdrawn: boolean;
}

interface Snapshot {
  /** Per request window, then per token window in the order of `tokenWindows`. */
  used: number[];
  inFlight: number;
}

interface TokenWindowRef {
  readonly kind: TokenWindowKind;
  readonly window: ResolvedWindow;
}

/**
 * A `LimiterStore` that keeps a quota's windows in Redis, so every limiter using the same `key`
 * (in any process, on any machine) shares one set of limits. Hand it to a limiter:
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore } from 'forestall/redis';
 * const client = await createClient({ url, disableOfflineQueue: true }).on('error', log).connect();
 * const limiter = new Limiter({ requests: { limit: 500, windowMs: 60_000 }, store: new RedisStore({ client, key: 'openai' }) });
 * ```
 *
 * - Limits stay in each limiter's configuration (give every process the same); Redis holds only
 *   the log of starts, token charges, concurrency leases and the pause.
 * - Each admission is one Lua script run (EVALSHA, EVAL after a script-cache loss) timed by the
 *   server's clock. A caller that must wait gets a booked future slot in that same call, which
 *   every other process counts at once; it starts at the booked time without asking again.
 *   Only the head of each limiter's queue talks to Redis.
 * - Concurrency leases expire after `leaseTtlMs` unless renewed; this store renews the ones it
 *   holds every third of that, so a crashed process frees its slots.
 * - When Redis cannot be reached (or does not answer within `commandTimeoutMs`) the
 *   `onStoreError` policy applies, an `outage` event is emitted, and the store probes Redis until
 *   it answers, then emits `recovered` and goes back to it.
 * - `usage()` (behind `limiter.stats()`) is a snapshot taken at this store's latest admission,
 *   slots booked by waiting callers included; during an outage under `'local'`, the local books.
 *
 * `close()` (called by `limiter.close()`) stops the store's timers; it never quits the client.
 */
export class RedisStore extends TypedEmitter<RedisStoreEvents> implements LimiterStore {
  /** Windows are measured with Redis's `TIME`, the one clock every process shares. */
  readonly ownClock = true;
  readonly #options: ResolvedRedisOptions;
  readonly #runner: ScriptRunner;
  readonly #keys: QuotaKeys;
  readonly #admitKeys: readonly string[];
  readonly #forgetKeys: readonly string[];
  /** This store's id among the peers, and the prefix of every entry id it makes. */
  readonly #peer = randomBytes(6).toString('base64url');
  #counter = 0;

  #limits: ResolvedLimits | undefined = undefined;
  #windowArgs: readonly string[] = ['0', '0'];
  #tokenWindows: readonly TokenWindowRef[] = [];
  #limited = false;
  #lateMs = 1_000;
  #peerHorizonMs = PEER_HORIZON_MS;
  #peers = 0;
  #snapshot: Snapshot = { used: [], inFlight: 0 };
  /** The latest pause this store knows of (its own, or one Redis reported), on the limiter's clock. */
  #pausedUntil = 0;

  readonly #bookings = new WeakMap<object, Booking>();
  /** Lease ids this store holds (admitted and booked), renewed by one timer. */
  readonly #held = new Set<string>();
  #renewTimer: ReturnType<typeof setInterval> | undefined = undefined;

  readonly #local = new MemoryStore();
  #localLimits: ResolvedLimits | undefined = undefined;
  #outage: { readonly since: number; readonly error: unknown } | undefined = undefined;
  #probeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  #probeDelay = FIRST_PROBE_MS;
  /** Ids whose log entry, charge and lease must go once Redis is back. */
  readonly #orphans = new Set<string>();
  /** Ids whose lease must go once Redis is back. */
  readonly #releases = new Set<string>();
  #closed = false;
  /** Writes on the wire, awaited by `close()`. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: RedisStoreOptions) {
    super();
    this.#options = resolveRedisOptions(options);
    this.#runner = new ScriptRunner(this.#options.client, this.#options.commandTimeoutMs);
    this.#keys = quotaKeys(this.#options.prefix, this.#options.key);
    const k = this.#keys;
    this.#admitKeys = [k.log, k.amt, k.conc, k.pause, k.clock, k.peers];
    this.#forgetKeys = [k.log, k.amt, k.conc];
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
    return this.#outage === undefined ? 'redis' : 'outage';
  }

  /** The outage policy in force. */
  get policy(): OutagePolicy {
    return this.#options.onStoreError;
  }

  /** Records the limits; they are sent with every admission, never read back from Redis. */
  configure(limits: ResolvedLimits): void {
    this.#limits = limits;
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
    this.#windowArgs = args;
    this.#tokenWindows = tokenWindows;
    this.#limited = Number.isFinite(limits.concurrency);
    const all = [...limits.requests, ...tokenWindows.map((t) => t.window)];
    const shortest = all.reduce((m, w) => Math.min(m, w.windowMs), Number.POSITIVE_INFINITY);
    const longest = all.reduce((m, w) => Math.max(m, w.windowMs + margin), 0);
    // A booking that comes due much later than its slot no longer says when the request started:
    // a quarter of the shortest window is far beyond timer jitter and well inside any window.
    this.#lateMs = Number.isFinite(shortest) ? Math.min(1_000, Math.max(25, shortest / 4)) : 1_000;
    this.#peerHorizonMs = Math.max(PEER_HORIZON_MS, longest);
    this.#snapshot = { used: [], inFlight: this.#snapshot.inFlight };
    this.#configureLocal();
  }

  /**
   * Admits `cost` in one Redis call, or books the earliest slot every limit allows and answers its
   * time; at that time the next call for the same `waiter` starts it without asking Redis again.
   * Answers synchronously when no Redis call is needed (a booking coming due, a known pause, an
   * outage policy); never throws synchronously.
   */
  admit(cost: Cost, now: number, waiter?: object): AdmitResult | Promise<AdmitResult> {
    if (this.#pausedUntil > now) return this.#pausedUntil;
    const booking = waiter === undefined ? undefined : this.#bookings.get(waiter);
    if (booking?.booked === true) {
      if (now < booking.at) return booking.at;
      // The slot was booked (and, with concurrency, its lease taken) in one call: every process
      // already counts it, so it starts now without asking Redis again.
      if (!this.#options.confirmBookings && now - booking.at <= this.#lateMs) {
        this.#bookings.delete(waiter as object);
        return new RedisEntry(booking.at, booking.id, booking.leased);
      }
    }
    if (this.#outage !== undefined) {
      if (booking !== undefined) this.#abandon(waiter as object, booking);
      return this.#admitDuringOutage(cost, now);
    }
    return this.#admitRemote(cost, now, waiter, booking);
  }

  /** The waiter left the queue: its booked slot (and lease) is given back. */
  withdraw(waiter: object): void {
    const booking = this.#bookings.get(waiter);
    if (booking === undefined) return;
    this.#bookings.delete(waiter);
    // The answer still on the wire may book a slot: its handler gives it back.
    if (booking.inflight) booking.withdrawn = true;
    // Nobody to tell if this fails: the slot then leaves with its window.
    else if (booking.booked) void this.#forget([booking.id], [])?.catch(ignore);
  }

  /** Replaces the entry's token charge in Redis (or in the local books, for a local admission). */
  reconcile(entry: StoreEntry, cost: Cost, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#local.reconcile(entry.inner, cost, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled || this.#outage !== undefined) return undefined;
    // During an outage the charge is not corrected: the entry leaves the windows as reserved.
    return this.#write(
      'reconcile',
      RECONCILE,
      [this.#keys.log, this.#keys.amt],
      [entry.id, String(cost.input), String(cost.output)],
    );
  }

  /** Removes the entry's start, tokens and lease: the request was never sent. */
  cancel(entry: StoreEntry, now: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#local.cancel(entry.inner, now);
    if (!(entry instanceof RedisEntry) || entry.cancelled) return undefined;
    entry.cancelled = true;
    // One call gives back the slot, the tokens and the lease; the release that follows sends nothing.
    if (entry.leased && !entry.released) {
      entry.leaseFreed = true;
      this.#held.delete(entry.id);
      this.#stopRenewingIfIdle();
    }
    return this.#forget([entry.id], []);
  }

  /** Frees the entry's concurrency lease (nothing to send when there is no concurrency limit). */
  release(entry: StoreEntry, _now?: number): void | Promise<void> {
    if (entry instanceof LocalEntry) return this.#local.release(entry.inner);
    if (!(entry instanceof RedisEntry) || entry.released) return undefined;
    entry.released = true;
    if (!entry.leased || entry.leaseFreed) return undefined;
    this.#held.delete(entry.id);
    this.#stopRenewingIfIdle();
    return this.#forget([], [entry.id]);
  }

  /** Holds admissions in every process sharing the key until `until`; never shortens a longer pause. */
  pause(until: number, now: number): void | Promise<void> {
    if (until <= now) return undefined;
    if (until > this.#pausedUntil) this.#pausedUntil = until;
    // Also held locally: admissions from the local share, and no Redis call while it lasts.
    this.#local.pause(until);
    if (this.#outage !== undefined) return undefined;
    return this.#write('pause', PAUSE, [this.#keys.pause, this.#keys.clock], [us(until - now), String(SLACK_US)]);
  }

  /**
   * Window use as of this store's latest admission (Redis is not asked: `stats()` is synchronous),
   * counting slots booked by waiting callers; under `'local'` during an outage, the local books.
   */
  usage(now: number): StoreUsage {
    if (this.#outage !== undefined && this.#options.onStoreError === 'local') return this.#local.usage(now);
    const limits = this.#limits;
    const used = this.#snapshot.used;
    const make = (window: ResolvedWindow, index: number): WindowUsage => {
      const u = used[index] ?? 0;
      return { limit: window.limit, windowMs: window.windowMs, used: u, remaining: Math.max(0, window.limit - u) };
    };
    const requests = limits?.requests ?? [];
    return {
      ...perWindowKind((kind) =>
        kind === 'requests'
          ? requests.map((w, i) => make(w, i))
          : this.#tokenWindows.flatMap((t, i) => (t.kind === kind ? [make(t.window, requests.length + i)] : [])),
      ),
      inFlight: this.#snapshot.inFlight,
      pausedUntil: this.#pausedUntil > now ? this.#pausedUntil : 0,
    };
  }

  /**
   * Stops renewing leases and probing Redis, and resolves once the writes already sent (reconciles,
   * releases, cancels, a pause) are answered or timed out, so the client can be closed right after.
   * Leases still held expire after `leaseTtlMs` unless released. The client is left open: it
   * belongs to the caller.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#renewTimer !== undefined) clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    await Promise.allSettled([...this.#inflight]);
  }

  /** Keeps track of a write until it settles, for `close()`. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const done = (): void => void this.#inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  async #admitRemote(
    cost: Cost,
    now: number,
    waiter: object | undefined,
    previous: Booking | undefined,
  ): Promise<AdmitResult> {
    // A stale booking (or one to confirm) goes back to Redis under its own id.
    const replace = previous?.booked === true && !this.#options.confirmBookings;
    const booking: Booking = previous ?? {
      id: `${this.#peer}.${(this.#counter++).toString(36)}`,
      booked: false,
      at: 0,
      leased: false,
      inflight: false,
      withdrawn: false,
    };
    if (waiter !== undefined && previous === undefined) this.#bookings.set(waiter, booking);
    const flags = (waiter === undefined ? 0 : 1) | (this.#options.confirmBookings ? 0 : 2) | (replace ? 4 : 0);
    const o = this.#options;
    const args = [
      booking.id,
      String(cost.input),
      String(cost.output),
      String(flags),
      this.#limited ? String(this.#limits?.concurrency) : '-1',
      us(o.leaseTtlMs),
      // Jittered, so processes waiting for a concurrency slot do not ask in step.
      us(o.pollMs * (0.75 + Math.random() / 2)),
      us(this.#lateMs),
      String(SLACK_US),
      this.#peer,
      us(this.#peerHorizonMs),
      ...this.#windowArgs,
    ];
    booking.inflight = true;
    const sent = performance.now();
    let reply: unknown;
    try {
      reply = await this.#runner.run(ADMIT, this.#admitKeys, args);
    } catch (error) {
      booking.inflight = false;
      if (waiter !== undefined) this.#bookings.delete(waiter);
      if (!isOutage(error)) {
        if (booking.booked) void this.#forget([booking.id], [])?.catch(ignore);
        throw new RedisStoreError('admit', messageOf(error), { cause: error });
      }
      // The script may have run before the connection failed: whatever it took is given back later.
      this.#orphan(booking.id);
      this.#enterOutage(error);
      return this.#admitDuringOutage(cost, now);
    }
    booking.inflight = false;
    const received = now + (performance.now() - sent);
    let r: AdmitReply;
    try {
      r = parseAdmitReply(reply);
    } catch (error) {
      if (waiter !== undefined) this.#bookings.delete(waiter);
      throw error;
    }
    // Server times to the limiter's clock, as if the script ran when the answer arrived: waits end
    // no earlier than the server meant, whichever way the network delay fell.
    const local = (t: number): number => received + (t - r.now) / 1_000;
    this.#peers = r.peers;
    this.#snapshot = { used: r.usage.length > 0 ? r.usage : this.#snapshot.used, inFlight: r.inFlight };
    if (r.paused > r.now) this.#pausedUntil = Math.max(this.#pausedUntil, local(r.paused));

    // A replaced or refused booking no longer holds the lease it may have had.
    if (previous?.leased === true) {
      this.#held.delete(booking.id);
      booking.leased = false;
    }
    switch (r.status) {
      case ADMIT_STATUS.admitted: {
        if (waiter !== undefined) this.#bookings.delete(waiter);
        if (this.#limited) this.#hold(booking.id);
        // A caller that left meanwhile gets this entry cancelled and released by the limiter.
        return new RedisEntry(local(r.at), booking.id, this.#limited);
      }
      case ADMIT_STATUS.booked: {
        booking.booked = true;
        booking.at = local(r.at);
        booking.leased = this.#limited && !this.#options.confirmBookings;
        if (booking.leased) this.#hold(booking.id);
        if (booking.withdrawn) void this.#forget([booking.id], [])?.catch(ignore);
        return booking.at;
      }
      case ADMIT_STATUS.wait:
        booking.booked = false;
        this.#stopRenewingIfIdle();
        return local(r.at);
      default:
        if (waiter !== undefined) this.#bookings.delete(waiter);
        this.#stopRenewingIfIdle();
        throw new RedisStoreError(
          'admit',
          `a cost of ${cost.input + cost.output} tokens exceeds a whole budget of quota "${o.key}"`,
        );
    }
  }

  #admitDuringOutage(cost: Cost, now: number): AdmitResult | Promise<AdmitResult> {
    const outage = this.#outage;
    switch (this.#options.onStoreError) {
      case 'open':
        return new OpenEntry(now);
      case 'closed':
        return Promise.reject(new RedisUnavailableError(this.#options.key, outage?.error));
      default: {
        const limits = this.#localLimits;
        const answer = this.#local.admit(limits === undefined ? cost : fitCost(cost, limits), now);
        if (typeof answer === 'object') return new LocalEntry(now, answer);
        // Infinity means "until a local release"; Redis may come back before that.
        return Number.isFinite(answer) ? answer : now + this.#options.pollMs;
      }
    }
  }

  /** A waiter's booking cannot be used during an outage: its slot is given back once Redis returns. */
  #abandon(waiter: object, booking: Booking): void {
    this.#bookings.delete(waiter);
    if (booking.booked) this.#orphan(booking.id);
  }

  #hold(id: string): void {
    this.#held.add(id);
    if (this.#renewTimer !== undefined || this.#closed) return;
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(1, this.#options.leaseTtlMs / 3));
    // Renewals alone must not keep a process alive.
    this.#renewTimer.unref();
  }

  #stopRenewingIfIdle(): void {
    if (this.#held.size !== 0 || this.#renewTimer === undefined) return;
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  #renew(): void {
    if (this.#outage !== undefined || this.#held.size === 0) return;
    const ids = [...this.#held];
    for (let i = 0; i < ids.length; i += BATCH) {
      this.#runner
        .run(
          RENEW,
          [this.#keys.conc, this.#keys.clock],
          [us(this.#options.leaseTtlMs), String(SLACK_US), ...ids.slice(i, i + BATCH)],
        )
        .then(undefined, (error: unknown) => {
          // A lease that expires meanwhile is simply lost: its slot was free for others anyway.
          if (isOutage(error)) this.#enterOutage(error);
        });
    }
  }

  /** Removes entries (`drop`: log, charge and lease) and leases (`release`) in one call per batch. */
  #forget(drop: readonly string[], release: readonly string[]): Promise<void> | undefined {
    for (const id of drop) this.#held.delete(id);
    for (const id of release) this.#held.delete(id);
    this.#stopRenewingIfIdle();
    if (this.#outage !== undefined) {
      for (const id of drop) this.#orphan(id);
      for (const id of release) this.#pendingRelease(id);
      return undefined;
    }
    const args = [String(drop.length), ...drop, ...release];
    return this.#track(this.#runner.run(FORGET, this.#forgetKeys, args)).then(
      () => undefined,
      (error: unknown) => {
        if (!isOutage(error))
          throw new RedisStoreError(drop.length > 0 ? 'cancel' : 'release', messageOf(error), { cause: error });
        for (const id of drop) this.#orphan(id);
        for (const id of release) this.#pendingRelease(id);
        this.#enterOutage(error);
      },
    );
  }

  /**
   * A write the limiter fires and forgets: an outage is reported by the `outage` event (and the
   * write dropped), any other failure rejects, which the limiter emits as `storeError`.
   */
  #write(operation: string, script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<void> {
    return this.#track(this.#runner.run(script, keys, args)).then(
      () => undefined,
      (error: unknown) => {
        if (!isOutage(error)) throw new RedisStoreError(operation, messageOf(error), { cause: error });
        this.#enterOutage(error);
      },
    );
  }

  #orphan(id: string): void {
    if (this.#orphans.size < MAX_PENDING) this.#orphans.add(id);
    this.#held.delete(id);
    this.#stopRenewingIfIdle();
  }

  #pendingRelease(id: string): void {
    if (this.#releases.size < MAX_PENDING) this.#releases.add(id);
  }

  #share(): number {
    const share = this.#options.localShare;
    return share === 'auto' ? 1 / Math.max(1, this.#peers) : share;
  }

  #configureLocal(): void {
    if (this.#limits === undefined) return;
    this.#localLimits = shareOf(this.#limits, this.#share());
    this.#local.configure(this.#localLimits);
  }

  #enterOutage(error: unknown): void {
    // After close, a write cut short by the caller closing the client is no outage to report.
    if (this.#outage !== undefined || this.#closed) return;
    this.#outage = { since: performance.now(), error };
    // The share is fixed when the outage starts, from the peers Redis last reported.
    this.#configureLocal();
    this.#probeDelay = FIRST_PROBE_MS;
    this.#scheduleProbe();
    this.emit('outage', { error, policy: this.#options.onStoreError });
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    this.#probeTimer = setTimeout(() => this.#probe(), this.#probeDelay);
    this.#probeTimer.unref();
  }

  #probe(): void {
    this.#probeTimer = undefined;
    this.#runner.send(['PING']).then(
      () => this.#recover(),
      () => {
        this.#probeDelay = Math.min(this.#probeDelay * 2, this.#options.probeIntervalMs);
        this.#scheduleProbe();
      },
    );
  }

  #recover(): void {
    const outage = this.#outage;
    if (outage === undefined || this.#closed) return;
    this.#outage = undefined;
    const drop = [...this.#orphans];
    const release = [...this.#releases];
    this.#orphans.clear();
    this.#releases.clear();
    for (let i = 0; i < drop.length; i += BATCH) void this.#forget(drop.slice(i, i + BATCH), [])?.catch(ignore);
    for (let i = 0; i < release.length; i += BATCH) void this.#forget([], release.slice(i, i + BATCH))?.catch(ignore);
    this.emit('recovered', { outageMs: performance.now() - outage.since });
  }
}

/** Clean-up after an outage is best effort: what it misses expires with its window or lease. */
function ignore(): void {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface AdmitReply {
  readonly status: number;
  readonly now: number;
  readonly at: number;
  readonly paused: number;
  readonly inFlight: number;
  readonly peers: number;
  readonly usage: number[];
}

function parseAdmitReply(reply: unknown): AdmitReply {
  if (!Array.isArray(reply) || reply.length < 6) {
    throw new RedisStoreError('admit', `unexpected reply from the admit script: ${JSON.stringify(reply)}`);
  }
  const n = reply.map((v: unknown) => (typeof v === 'number' ? v : Number(v)));
  return {
    status: n[0] as number,
    now: n[1] as number,
    at: n[2] as number,
    paused: n[3] as number,
    inFlight: n[4] as number,
    peers: n[5] as number,
    usage: n.slice(6),
  };
}
