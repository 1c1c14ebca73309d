import { type Cost, type ResolvedLimits, WINDOW_KINDS } from '../core/vocabulary.js';
import { type TimerHandle, unrefTimer } from '../internal/clock.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { AdmitResult, StoreUsage } from '../stores/store.js';
import { LocalEntry, OpenEntry } from './entries.js';
import { RedisUnavailableError } from './errors.js';
import type { RedisOutageEvent, RedisRecoveredEvent } from './events.js';
import { fitCost, shareOf } from './local-share.js';
import { type RecentAdmission, RecentAdmissions, type WrittenBack } from './recent-admissions.js';
import type { ResolvedRedisOptions } from './options.js';
import { PROBE } from './lua/pause.js';
import type { ScriptRunner } from './script-runner.js';
import { type Dropped, unplaced } from './writes.js';
import { BATCH } from './wire.js';

const FIRST_PROBE_MS = 100;
/** Ids kept for clean-up after an outage; older ones simply expire with their windows. */
const MAX_PENDING = 10_000;

/** What the outage policy needs from its store. */
export interface OutageHost {
  readonly options: ResolvedRedisOptions;
  readonly runner: ScriptRunner;
  /** A key of the quota, for the probe to be routed to (and answered by) the node that serves it. */
  readonly probeKey: string;
  /** How many stores used the key lately, as Redis last reported (0 before it answered). */
  peers(): number;
  /** Gives back, best effort, entries (`drop`) and leases (`release`) Redis could not be told of. */
  cleanUp(drop: readonly string[], release: readonly string[]): void;
  /**
   * Writes, best effort, a charge corrected while Redis could not be told of it: `belief` is what
   * Redis was last known to hold, which it may no longer (`sure` false).
   */
  recharge(belief: Dropped, cost: Cost, sure: boolean): void;
  /** Writes back, best effort and in order, admissions and leases Redis may have lost. */
  restore(entries: readonly WrittenBack[], leases: readonly string[], now: number): void;
  /** The leases this store holds and renews; `hold` adds one. */
  readonly leases: { held(): readonly string[]; hold(id: string): void };
  /** A new entry id of this store's. */
  newId(): string;
  /** Window use as Redis last reported it (0 used before it answered). */
  lastSeen(now: number): StoreUsage;
  outage(event: RedisOutageEvent): void;
  recovered(event: RedisRecoveredEvent): void;
}

/**
 * What the store does while Redis cannot be reached: the `onStoreError` policy (`'local'` admits
 * from a share of the limits kept in memory, `'open'` lets everything through, `'closed'` rejects),
 * the probes that find Redis again, and the ids whose clean-up waits for it. Emits `outage` once
 * per outage and `recovered` when a probe gets an answer.
 */
export class OutageKeeper {
  readonly #host: OutageHost;
  /** The books of admissions made from the local share: new for each outage. */
  #books = new MemoryStore();
  /** After an outage, until when the local books still bound this store's admissions. */
  #graceUntil = 0;
  #limits: ResolvedLimits | undefined = undefined;
  #localLimits: ResolvedLimits | undefined = undefined;
  #outage: { readonly since: number; readonly error: unknown } | undefined = undefined;
  #probeTimer: TimerHandle | undefined = undefined;
  #probeDelay = FIRST_PROBE_MS;
  /** Ids whose log entry, charge and lease must go once Redis is back. */
  readonly #orphans = new Set<string>();
  /** Ids whose lease must go once Redis is back. */
  readonly #releases = new Set<string>();
  /** This store's admissions in Redis still in their windows: the local books start from them. */
  readonly #recent = new RecentAdmissions(MAX_PENDING);
  /** What the local share admitted during this outage, to write back when Redis answers. */
  #localEntries: LocalEntry[] = [];
  /** Charges corrected during the outage (the latest for each id), written once Redis is back. */
  readonly #recharges = new Map<string, { readonly belief: Dropped; cost: Cost }>();
  #closed = false;

  constructor(host: OutageHost) {
    this.#host = host;
  }

  /** Redis cannot be reached now, and the policy applies. */
  get active(): boolean {
    return this.#outage !== undefined;
  }

  /** Takes the full limits; the local share is worked out from them. */
  configure(limits: ResolvedLimits): void {
    this.#limits = limits;
    this.#recent.configure(limits);
    this.#configureLocal();
  }

  /** Answers an admission by the policy, while Redis is out. */
  admit(cost: Cost, now: number): AdmitResult | Promise<AdmitResult> {
    const outage = this.#outage;
    switch (this.#host.options.onStoreError) {
      case 'open':
        return new OpenEntry(now);
      case 'closed':
        return Promise.reject(new RedisUnavailableError(this.#host.options.key, outage?.error));
      default: {
        const answer = this.#books.admit(this.#fit(cost), now);
        if (typeof answer === 'object') {
          const entry = new LocalEntry(now, answer, cost, this.#books);
          if (this.#localEntries.length < MAX_PENDING) this.#localEntries.push(entry);
          return entry;
        }
        // Infinity means "until a local release"; Redis may come back before that.
        return Number.isFinite(answer) ? answer : now + this.#host.options.pollMs;
      }
    }
  }

  /** When `cost` could start by the policy, while Redis is out (`'local'`: by the local books). */
  earliest(cost: Cost, now: number): number {
    if (this.#host.options.onStoreError !== 'local') return now;
    return this.#books.earliest(this.#fit(cost), now);
  }

  /** The local books of the outage in force (or of the last one). */
  get local(): MemoryStore {
    return this.#books;
  }

  /**
   * Just after an outage, the other processes of the key may still admit from their local shares,
   * which Redis does not count until each of them writes back: until every one has found Redis
   * again (each probes at least every `probeIntervalMs`, and a probe takes at most
   * `commandTimeoutMs`), this store's admissions stay within its local share too. Returns when
   * `cost` fits that share, if not now.
   */
  holdsBack(cost: Cost, now: number): number | undefined {
    if (now >= this.#graceUntil) return undefined;
    const at = this.earliest(cost, now);
    // Infinity is the local concurrency: Redis counts the written-back leases, and decides.
    return at > now && Number.isFinite(at) ? at : undefined;
  }

  /** The local books, when they are what `usage()` reports (under `'local'`, during an outage). */
  usage(now: number): StoreUsage | undefined {
    if (this.#outage === undefined || this.#host.options.onStoreError !== 'local') return undefined;
    return this.#books.usage(now);
  }

  /** A local admission's charge corrected: in the local books, and in Redis once written back. */
  reconcileLocal(entry: LocalEntry, cost: Cost, now: number): void {
    if (entry.cancelled) return;
    entry.cost = cost;
    entry.books.reconcile(entry.inner, cost, now);
    const id = entry.restoredId;
    if (id === undefined) return;
    // Written back under a new id: only the log can place it.
    if (this.active) this.pendingRecharge(unplaced(id), cost);
    else this.#host.recharge(unplaced(id), cost, false);
  }

  /** A local admission counts from `at`; one already written back keeps the start it was written with. */
  restampLocal(entry: LocalEntry, at: number, now: number): void {
    if (entry.cancelled || entry.restoredId !== undefined || at <= entry.start) return;
    entry.start = at;
    entry.books.restamp(entry.inner, at, now);
  }

  /** A local admission never sent: out of the local books, and out of Redis if written back. */
  cancelLocal(entry: LocalEntry, now: number): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    entry.books.cancel(entry.inner, now);
    if (entry.restoredId !== undefined) this.#host.cleanUp([entry.restoredId], []);
  }

  /** A local admission's concurrency slot freed, locally and (once written back) in Redis. */
  releaseLocal(entry: LocalEntry): void {
    if (entry.released) return;
    entry.released = true;
    entry.books.release(entry.inner);
    if (entry.restoredId !== undefined) this.#host.cleanUp([], [entry.restoredId]);
  }

  /** The entry `id` (log, charge and lease) is to be dropped once Redis is back. */
  orphan(id: string): void {
    if (this.#orphans.size < MAX_PENDING) this.#orphans.add(id);
  }

  /**
   * The charge of `belief.id` is to be `cost` once Redis is back (the reconcile made during the
   * outage); the belief kept is the first one, what Redis held before the outage's reconciles.
   */
  pendingRecharge(belief: Dropped, cost: Cost): void {
    const pending = this.#recharges.get(belief.id);
    if (pending !== undefined) pending.cost = cost;
    else if (this.#recharges.size < MAX_PENDING) this.#recharges.set(belief.id, { belief, cost });
  }

  /** The lease `id` is to be released once Redis is back. */
  pendingRelease(id: string): void {
    if (this.#releases.size < MAX_PENDING) this.#releases.add(id);
  }

  /** Redis admitted a request of this store's at `at` (the limiter's clock): kept to write back. */
  admitted(id: string, at: number, cost: Cost, now: number, generation: number): RecentAdmission {
    if (now < this.#graceUntil) this.#books.record(this.#fit(cost), at, now);
    return this.#recent.add(id, at, cost, now, generation);
  }

  /** Just after an outage: this store's admissions are still held within its local share. */
  holdingBack(now: number): boolean {
    return now < this.#graceUntil;
  }

  /** Redis failed: the policy applies from now on, and probing starts. Once per outage. */
  enter(error: unknown): void {
    // After close, a write cut short by the caller closing the client is no outage to report.
    if (this.#outage !== undefined || this.#closed) return;
    const now = this.#host.runner.clock.now();
    this.#outage = { since: now, error };
    this.#books = new MemoryStore();
    this.#graceUntil = 0;
    // The share is fixed when the outage starts, from the peers Redis last reported.
    this.#configureLocal();
    this.#startBooks(now);
    this.#probeDelay = FIRST_PROBE_MS;
    this.#scheduleProbe();
    this.#host.outage({ error, policy: this.#host.options.onStoreError });
  }

  /** Stops probing; no outage starts or ends after this. */
  close(): void {
    this.#closed = true;
    if (this.#probeTimer !== undefined) this.#host.runner.clock.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /**
   * The local books start from what was known when Redis went, not from empty: this store's own
   * admissions still in their windows, and, as others' share held for a window, what the last
   * answer said the rest of the key used beyond them. So a budget Redis said was spent stays
   * spent, however the outage began (a reply merely slow included).
   */
  #startBooks(now: number): void {
    for (const { at, cost } of this.#recent.live(now)) this.#books.record(this.#fit(cost), at, now);
    const seen = this.#host.lastSeen(now);
    for (const kind of WINDOW_KINDS) {
      for (const { windowMs, remaining } of seen[kind]) {
        this.#books.learnOthersShare({ kind, windowMs, remaining, since: now, until: now + windowMs }, now);
      }
    }
  }

  /**
   * After the clean-ups: what Redis must count again, because a restarted server lost it or it was
   * admitted locally meanwhile: every admission of this store's still in its window, with its
   * charge as it stands, and the leases still held (a local one's is released in Redis later).
   */
  #writeBack(): void {
    const now = this.#host.runner.clock.now();
    const span = this.#recent.spanMs;
    const entries: WrittenBack[] = this.#recent.live(now);
    // Local admissions still holding their slot: their lease goes to Redis too.
    const leases: string[] = [];
    for (const entry of this.#localEntries) {
      if (entry.cancelled || entry.start + span <= now) continue;
      entry.restoredId = this.#host.newId();
      entries.push({ id: entry.restoredId, at: entry.start, cost: entry.cost, generation: 0 });
      if (!entry.released && this.#limits?.concurrency !== Number.POSITIVE_INFINITY) leases.push(entry.restoredId);
    }
    this.#localEntries = [];
    // Renewed from now on, with the leases held across the outage, which a restart lost too.
    for (const id of leases) this.#host.leases.hold(id);
    this.#host.restore(entries, this.#host.leases.held(), now);
  }

  /** `cost` as the local books charge it (scaled to fit the local share when it is larger). */
  #fit(cost: Cost): Cost {
    return this.#localLimits === undefined ? cost : fitCost(cost, this.#localLimits);
  }

  #share(): number {
    const share = this.#host.options.localShare;
    return share === 'auto' ? 1 / Math.max(1, this.#host.peers()) : share;
  }

  #configureLocal(): void {
    if (this.#limits === undefined) return;
    this.#localLimits = shareOf(this.#limits, this.#share());
    this.#books.configure(this.#localLimits);
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    this.#probeTimer = unrefTimer(this.#host.runner.clock.setTimeout(() => this.#probe(), this.#probeDelay));
  }

  #probe(): void {
    this.#probeTimer = undefined;
    // Not PING, which any node answers: a script on the quota's own key reaches the one that serves it.
    this.#host.runner.run(PROBE, [this.#host.probeKey], []).then(
      () => this.#recover(),
      () => {
        this.#probeDelay = Math.min(this.#probeDelay * 2, this.#host.options.probeIntervalMs);
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
    for (let i = 0; i < drop.length; i += BATCH) this.#host.cleanUp(drop.slice(i, i + BATCH), []);
    for (let i = 0; i < release.length; i += BATCH) this.#host.cleanUp([], release.slice(i, i + BATCH));
    this.#writeBack();
    if (this.#host.options.onStoreError === 'local') {
      const o = this.#host.options;
      this.#graceUntil = this.#host.runner.clock.now() + o.probeIntervalMs + o.commandTimeoutMs;
    }
    // After the clean-ups: the charge of an entry dropped meanwhile finds nothing to correct.
    const recharges = [...this.#recharges.values()];
    this.#recharges.clear();
    for (const { belief, cost } of recharges) this.#host.recharge(belief, cost, false);
    this.#host.recovered({ outageMs: this.#host.runner.clock.now() - outage.since });
  }
}
