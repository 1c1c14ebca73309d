import { TypedEmitter } from 'tiny-typed-emitter';
import { AcquireTimeoutError, LimiterClosedError, QueueFullError } from '../core/errors.js';
import type { LimiterEvents, RejectReason, RetryEvent, StoreErrorEvent } from '../core/events.js';
import type { AcquireOptions, Cost, LimitOptions, TokenCost } from '../core/vocabulary.js';
import { type Clock, systemClock, validateClock } from '../internal/clock.js';
import { abortSignal, finiteNumber, knownKeys, nonNegativeNumber, plainObject } from '../internal/validate.js';
import type { RateLimitSnapshot } from '../providers/types.js';
import {
  type StoreCapabilities,
  type StoreCapability,
  validateStore,
  warnMissingCapability,
} from '../stores/capabilities.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { StoreEntry } from '../stores/store.js';
import { ACQUIRE_HOOK, EXPECT_RESTAMPS, hotListeners } from './hot-listeners.js';
import { HeaderSync } from '../feedback/header-sync.js';
import { type RateLimitAnswer, rateLimitedEvent } from '../feedback/rate-limit-policy.js';
import { Lease, type LeaseOwner } from './lease.js';
import { leaseOwner } from './lease-owner.js';
import { LIMIT_KEYS, Limits, resolveCost } from './limits.js';
import {
  type LimiterOptions,
  type LimiterStats,
  type ObserveOptions,
  type RunContext,
  type RunOptions,
  limiterStats,
  resolveObserveOptions,
  validateLimiterOptions,
} from './options.js';
import { runWithLease } from './run.js';
import { cannotMeet, Scheduler } from './scheduler.js';
import { registerStartEstimate } from './start-estimate.js';
import { StoreDriver } from './store-driver.js';
import { Gates } from './gates.js';
import { type Diagnosis, Diagnostics, NO_BLOCKS } from './diagnose.js';

const ACQUIRE_KEYS = new Set(['tokens', 'spend', 'priority', 'signal', 'timeoutMs']);
const ZERO_COST: Cost = Object.freeze({ input: 0, output: 0 });

/**
 * A rate limiter for API callers: sliding-window request limits, token budgets and a concurrency
 * cap, taken together in one atomic `acquire()`:
 * ```ts
 * const limiter = new Limiter({ requests: { limit: 500, windowMs: 60_000 }, tokens: { limit: 200_000, windowMs: 60_000 } });
 * await using lease = await limiter.acquire({ tokens: 1_200 });
 * ```
 *
 * The public face over parts of one concept each: the scheduler (queue, deadlines, the one timer),
 * the store driver (synchronous and asynchronous stores, bookings), the limits (resolution,
 * capacity, updates) and header learning. Waiters are served by priority, then in arrival order.
 */
export class Limiter extends TypedEmitter<LimiterEvents> implements AsyncDisposable {
  readonly #clock: Clock;
  readonly #driver: StoreDriver;
  readonly #scheduler: Scheduler;
  readonly #limits: Limits;
  /** Header learning and first contact (kept here, not in a shared store's concurrency). */
  readonly #sync: HeaderSync;
  /** What the limiter holds back itself: first contact, adaptive concurrency, the pace after 429s. */
  readonly #gates: Gates;
  readonly #diagnostics: Diagnostics;
  #inFlight = 0;
  #closed = false;
  /** The memory store's release reads no time: skip reading the clock on the hot path. */
  readonly #releaseNeedsNow: boolean;
  /** Capabilities already reported missing, so each is told once. */
  readonly #warned = new Set<StoreCapability>();
  readonly #owner: LeaseOwner;
  /**
   * The last released lease, kept reachable: when none is alive at a full collection, V8 may drop
   * the hidden classes and optimised code of the hot path, and every later acquire pays to rebuild them.
   */
  readonly #kept: { lease: Lease | undefined } = { lease: undefined };
  /** @internal Called with each admission's wait when set (`forestall/otel`; see `ACQUIRE_HOOK`). */
  [ACQUIRE_HOOK]: ((waitedMs: number) => void) | undefined = undefined;
  /** @internal Its leases will be restamped (the fetch wrapper's `countFrom`): told to the store. */
  readonly [EXPECT_RESTAMPS] = (): void => this.#driver.store.expectRestamps?.();
  /** Whether anyone listens to the events of the hot path: reading a field beats `listenerCount`. */
  readonly #hears = hotListeners(this as unknown as NodeJS.EventEmitter, ['acquired', 'released', 'idle']);

  constructor(options: LimiterOptions = {}) {
    super();
    validateLimiterOptions(options);
    this.#clock = options.clock === undefined ? systemClock : validateClock(options.clock);
    const store = options.store === undefined ? new MemoryStore() : validateStore(options.store);
    this.#releaseNeedsNow = !(store instanceof MemoryStore);
    this.#limits = new Limits(options);
    this.#sync = new HeaderSync(options.limits === 'auto');
    this.#gates = new Gates(this.#sync, () => this.#inFlight, {
      concurrencyChanged: (event) => this.emit('concurrencyChanged', event),
      paceChanged: (event) => this.emit('paceChanged', event),
    });
    this.#driver = new StoreDriver(
      store,
      this.#clock,
      (waiter, answer) => this.#scheduler.answer(waiter, answer),
      (operation, error) => this.#storeError(operation, error),
    );
    this.#scheduler = new Scheduler(this.#clock, this.#driver, {
      lease: (entry, cost, waitedMs, now, priority, blockedBy) =>
        this.#lease(entry, cost, waitedMs, now, priority, blockedBy),
      rejected: (reason, error, waitedMs) => this.emit('rejected', { reason, error, waitedMs }),
      queued: (waiter, queued) => this.#diagnostics.queued(waiter, queued, this.#hears.acquired),
      settled: () => this.#checkIdle(),
      holdUntil: (now) => this.#gates.holdUntil(now),
      room: (now) => this.#gates.room(now),
    });
    this.#diagnostics = new Diagnostics(this.#clock, this.#driver, this.#gates, this.#limits, this.#scheduler, this);
    this.#driver.configure(this.#limits.resolved);
    this.#gates.configure(this.#limits.resolved);
    this.#owner = leaseOwner({
      limiter: this,
      clock: this.#clock,
      driver: this.#driver,
      scheduler: this.#scheduler,
      release: (lease, entry) => this.#release(lease, entry),
      overloaded: (lease) => this.#gates.overloaded(lease, lease.acquiredAt, this.#clock.now()),
      missing: (capability, operation) => this.#missing(capability, operation),
    });
    registerStartEstimate(this, (cost) => this.#driver.earliest(cost, this.#clock.now()));
  }

  /** The limits in force, in the shape `new Limiter()` and `updateLimits()` take. */
  get limits(): LimitOptions {
    return this.#limits.toOptions();
  }

  /** The clock the limiter measures windows with. */
  get clock(): Clock {
    return this.#clock;
  }

  /** What this limiter's store can do (see `LimiterStore`): what is false here has no effect. */
  get capabilities(): StoreCapabilities {
    return this.#driver.capabilities;
  }

  /**
   * Waits until every limit admits the cost, then takes all of them at once.
   * Rejects at once with `CapacityError` when the cost can never fit, `QueueFullError` when
   * `maxQueue` callers already wait, `LimiterClosedError` after `close()`, the signal's reason
   * when `signal` is (or becomes) aborted, and `AcquireTimeoutError` when `timeoutMs` passes (or
   * the wait is already known to be longer).
   */
  acquire(options?: AcquireOptions): Promise<Lease> {
    if (this.#closed) return this.#rejectNow('closed', new LimiterClosedError());
    let cost = ZERO_COST;
    let priority = 0;
    let signal: AbortSignal | undefined;
    let timeoutMs = Number.POSITIVE_INFINITY;
    if (options !== undefined) {
      try {
        plainObject('options', options);
        for (const key in options) {
          if (!ACQUIRE_KEYS.has(key)) knownKeys('acquire options', options, [...ACQUIRE_KEYS]);
        }
        cost = resolveCost(options.tokens, 'tokens', options.spend);
        if (options.priority !== undefined) priority = finiteNumber('priority', options.priority);
        if (options.signal !== undefined) signal = abortSignal('signal', options.signal);
        if (options.timeoutMs !== undefined) timeoutMs = nonNegativeNumber('timeoutMs', options.timeoutMs);
      } catch (error) {
        return this.#rejectNow('invalid', error);
      }
      if (signal?.aborted) return this.#rejectNow('aborted', signal.reason);
      const tooLarge = this.#limits.capacityError(cost);
      if (tooLarge !== undefined) return this.#rejectNow('capacity', tooLarge);
    }

    const now = this.#clock.now();
    const scheduler = this.#scheduler;
    if (this.#driver.synchronous && !scheduler.hasAtLeast(priority) && this.#gates.holdUntil(now) <= now) {
      let admission: StoreEntry | number;
      try {
        admission = this.#driver.admitNow(cost, now);
      } catch (error) {
        return this.#rejectNow('store', error);
      }
      if (typeof admission === 'object') return Promise.resolve(this.#lease(admission, cost, 0, now, priority));
      if (cannotMeet(admission, now, timeoutMs)) return this.#timeoutNow(timeoutMs);
    } else if (timeoutMs !== Number.POSITIVE_INFINITY) {
      // Queued behind others the wait is at least this long, so a deadline before it cannot be met.
      const earliest = this.#driver.earliest(cost, now);
      if (earliest !== undefined && cannotMeet(earliest, now, timeoutMs)) return this.#timeoutNow(timeoutMs);
    }
    const maxQueue = this.#limits.resolved.maxQueue;
    if (scheduler.size >= maxQueue) return this.#rejectNow('queue-full', new QueueFullError(maxQueue));
    return scheduler.enqueue(cost, priority, now, timeoutMs, signal);
  }

  /**
   * Takes a lease only if every limit admits the cost now and nobody of the same or higher
   * priority is queued ahead; never waits. Returns undefined otherwise. Throws on invalid options
   * and `CapacityError` for a cost that can never fit. Needs a store that answers at once
   * (`capabilities.synchronous`): on any other store it always returns undefined, and the limiter
   * says so once with a `FORESTALL_STORE_CAPABILITY` warning.
   */
  tryAcquire(options?: Omit<AcquireOptions, 'signal' | 'timeoutMs'>): Lease | undefined {
    if (this.#closed) throw new LimiterClosedError();
    let cost = ZERO_COST;
    let priority = 0;
    if (options !== undefined) {
      plainObject('options', options);
      knownKeys('tryAcquire options', options, ['tokens', 'spend', 'priority']);
      cost = resolveCost(options.tokens, 'tokens', options.spend);
      if (options.priority !== undefined) priority = finiteNumber('priority', options.priority);
      const tooLarge = this.#limits.capacityError(cost);
      if (tooLarge !== undefined) {
        this.emit('rejected', { reason: 'capacity', error: tooLarge, waitedMs: 0 });
        throw tooLarge;
      }
    }
    if (!this.#driver.synchronous) {
      this.#missing('synchronous', 'tryAcquire()');
      return undefined;
    }
    const now = this.#clock.now();
    if (this.#scheduler.hasAtLeast(priority) || this.#gates.holdUntil(now) > now) return undefined;
    const admission = this.#driver.admitNow(cost, now);
    return typeof admission === 'object' ? this.#lease(admission, cost, 0, now, priority) : undefined;
  }

  /**
   * Throws `CapacityError` when a cost can never fit this limiter's budgets (larger than a whole
   * window's limit), so a caller can refuse it before doing any work. Validates like `acquire`.
   */
  assertCanFit(tokens?: TokenCost, spend?: number): void {
    const tooLarge = this.#limits.capacityError(resolveCost(tokens, 'tokens', spend));
    if (tooLarge !== undefined) throw tooLarge;
  }

  /**
   * Acquires, calls `fn(lease, { attempt, signal })`, and releases in `finally`, whatever `fn`
   * does. With `{ retry: { ... } }`, failed attempts are retried as `retry()` does, each with its
   * own lease.
   */
  run<T>(fn: (lease: Lease, context: RunContext) => T | PromiseLike<T>, options?: RunOptions<T>): Promise<T> {
    return runWithLease(this, fn, options);
  }

  /**
   * Holds every admission for `ms` milliseconds from now (what a 429 with `retry-after` means for
   * everyone). Extends a pause that ends sooner; never shortens one that ends later.
   */
  pause(ms: number): void {
    nonNegativeNumber('ms', ms);
    if (this.#closed) return;
    const now = this.#clock.now();
    const until = now + ms;
    this.#driver.pause(until, now);
    this.emit('paused', { ms, until });
    if (this.#scheduler.size > 0) this.#scheduler.drain();
  }

  /**
   * The provider refused a request for its rate limit (a 429, or a rate-limit error inside a
   * stream): every caller pauses for the delay the server named (at most `maxPauseMs`), else for
   * `defaultPauseMs` (1 s), and the limiter emits `rateLimited`. Returns the pause. The fetch
   * wrapper and `retry` call it; call it yourself when you see a 429 another way.
   */
  rateLimited(answer: RateLimitAnswer = {}): number {
    if (this.#closed) return rateLimitedEvent(answer).pauseMs;
    const event = this.#gates.rateLimited(answer, this.#clock.now());
    if (event.pauseMs > 0) this.pause(event.pauseMs);
    this.emit('rateLimited', event);
    return event.pauseMs;
  }

  /** `retry` is about to wait `event.delayMs` before another attempt: emits `retry`. */
  retrying(event: RetryEvent): void {
    this.emit('retry', event);
  }

  /**
   * Changes limits at runtime; keys left out keep their value, a key set to `undefined` removes
   * that limit. Requests already started count against the new limits. Waiters are re-evaluated
   * at once: a raised limit wakes them, and a waiter whose cost the new limits can never hold is
   * rejected with `CapacityError`.
   */
  updateLimits(limits: LimitOptions): void {
    plainObject('limits', limits);
    knownKeys('updateLimits', limits, LIMIT_KEYS);
    this.#limits.update(limits);
    this.#limitsChanged();
    this.#scheduler.drain();
    this.#checkIdle();
  }

  /**
   * Learns from a provider's rate-limit headers (`parseRateLimitHeaders(response.headers, provider)`):
   * - a limit announced for a kind you did not set is adopted (and followed when it changes);
   * - when the server says less remains than this limiter believes, someone else shares the quota:
   *   the difference (the least others must have used, as if the server had seen all our requests
   *   since `since`, when the request was sent) becomes the others' share of that window, held one
   *   window beyond the server's reset (the largest in force applies) and across a pause, so
   *   nothing is sent that the server would refuse. Needs `capabilities.othersShare`;
   * - with `limits: 'auto'`, the first observation ends the one-request-at-a-time start.
   */
  observe(snapshot: RateLimitSnapshot, options?: ObserveOptions): void {
    plainObject('snapshot', snapshot);
    const { since, refused } = resolveObserveOptions(options);
    if (this.#closed) return;
    const now = this.#clock.now();
    const at = { since: since ?? now, now, refused };
    const seen = this.#sync.observe(snapshot, this.#driver.store, this.#limits, at, (adopted) => {
      this.#limits.adopt(adopted);
      this.#limitsChanged();
    });
    if (seen.othersShareMissed) this.#missing('othersShare', 'observe() of what the server says remains');
    if (this.listenerCount('othersShare') !== 0) for (const event of seen.learned) this.emit('othersShare', event);
    if (this.#scheduler.size > 0) this.#scheduler.drain();
  }

  /**
   * Until the first `observe()`, one request at a time, as `limits: 'auto'` starts: the first
   * response tells the limits (and others' use) before a burst goes out. The rest wait in the queue
   * like any waiter (`stats().queued`, `waitedMs`, `close()`). Does nothing once the limiter has
   * observed the provider, or after `close()`. The fetch wrapper calls it on first use.
   */
  probeUntilObserved(): void {
    if (!this.#closed) this.#sync.probeUntilObserved();
  }

  /** Queue length, leases held, use of every window, and how long a pause has left. */
  stats(): LimiterStats {
    const now = this.#clock.now();
    const concurrency = this.#gates.adaptive?.limit ?? this.#limits.resolved.concurrency;
    const { size } = this.#scheduler;
    return limiterStats(now, this.#driver.usage(now), size, this.#inFlight, concurrency, this.#gates, this.#closed);
  }

  /** What the head of the queue waits on (see `Diagnosis`); `registry.diagnose()` for every limiter. */
  diagnose(): Diagnosis {
    return this.#diagnostics.diagnose();
  }

  /** True once `observe()` has been called: the limiter has heard from the provider. */
  get observed(): boolean {
    return this.#sync.observed;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Rejects every waiter with `LimiterClosedError`, stops the timer, and makes later acquires
   * reject at once. Leases already held can still be released. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#scheduler.close(new LimiterClosedError());
    this.emit('closed');
    await this.#driver.close();
  }

  /** Closes the limiter: `await using limiter = new Limiter(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The limits changed: the store learns them, impossible waiters are told, listeners hear. */
  #limitsChanged(): void {
    this.#driver.configure(this.#limits.resolved);
    this.#gates.configure(this.#limits.resolved);
    this.#scheduler.rejectWhere('capacity', (cost) => this.#limits.capacityError(cost));
    this.emit('limitsChanged', { limits: this.limits });
  }

  #timeoutNow(timeoutMs: number): Promise<never> {
    return this.#rejectNow('timeout', new AcquireTimeoutError(timeoutMs, 0));
  }

  #rejectNow(reason: RejectReason, error: unknown): Promise<never> {
    this.emit('rejected', { reason, error, waitedMs: 0 });
    return Promise.reject(error);
  }

  #lease(entry: StoreEntry, cost: Cost, waitedMs: number, now: number, priority: number, blockedBy = NO_BLOCKS): Lease {
    this.#inFlight++;
    this.#gates.admitted(now);
    const lease = new Lease(this.#owner, entry, cost, waitedMs, now);
    this[ACQUIRE_HOOK]?.(waitedMs);
    // The hot path: build no payload nobody listens to.
    if (this.#hears.acquired)
      this.emit('acquired', { waitedMs, input: cost.input, output: cost.output, priority, blockedBy });
    return lease;
  }

  #release(lease: Lease, entry: StoreEntry): void {
    if (this.#gates.adaptive) this.#gates.released(lease, lease.cancelled, this.#inFlight + this.#scheduler.size);
    this.#inFlight--;
    this.#kept.lease = lease;
    const listening = this.#hears.released;
    const now = listening || this.#releaseNeedsNow ? this.#clock.now() : 0;
    this.#driver.release(entry, now);
    if (listening) this.emit('released', { heldMs: now - lease.acquiredAt, cancelled: lease.cancelled });
    if (this.#scheduler.size > 0) this.#scheduler.drain();
    else this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#hears.idle && this.#inFlight === 0 && this.#scheduler.size === 0) this.emit('idle');
  }

  #storeError(operation: StoreErrorEvent['operation'], error: unknown): void {
    this.emit('storeError', { operation, error });
  }

  /** An operation needed a capability the store lacks: said once per capability, never silent. */
  #missing(capability: StoreCapability, operation: string): void {
    if (this.#warned.has(capability)) return;
    this.#warned.add(capability);
    warnMissingCapability(this.#driver.store, capability, operation);
  }
}
