import { TypedEmitter } from 'tiny-typed-emitter';
import { AcquireTimeoutError, CapacityError, LimiterClosedError, QueueFullError } from '../core/errors.js';
import type { LimiterEvents, RejectReason, StoreErrorEvent } from '../core/events.js';
import { systemClock, type Clock, type TimerHandle } from '../internal/clock.js';
import { DeadlineHeap, type HasDeadline } from '../internal/deadline-heap.js';
import {
  LIMIT_KEYS,
  WINDOW_KINDS,
  resolveCost,
  resolveLimits,
  toLimitOptions,
  type ResolvedOptions,
} from './limits.js';
import {
  callable,
  abortSignal,
  finiteNumber,
  knownKeys,
  nonNegativeNumber,
  plainObject,
} from '../internal/validate.js';
import { WaiterQueue, type QueueNode } from '../internal/waiter-queue.js';
import { Lease, type LeaseOwner } from './lease.js';
import type { RetryOptions } from '../retry/options.js';
import { retry } from '../retry/retry.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { AdmitResult, LimiterStore, StoreEntry } from '../stores/store.js';
import type { Cost, WindowUsage } from '../core/vocabulary.js';
import type { RateLimitSnapshot } from '../providers/types.js';
import type { AcquireOptions, LimiterOptions, ObserveOptions } from './options.js';
import type { LimitOptions, TokenCost } from '../core/vocabulary.js';
import type { WindowKind } from '../core/vocabulary.js';

const ACQUIRE_KEYS = new Set(['tokens', 'priority', 'signal', 'timeoutMs']);
const ZERO_COST: Cost = Object.freeze({ input: 0, output: 0 });

/**
 * A caller waiting in the queue. Holds its own links, heap slot and abort handler. Kept small:
 * 100,000 waiters must fit in about 30 MB, so no reject function (rejecting resolves with a
 * rejected promise) and no deadline number when there is no timeout (a number field boxes).
 */
class Waiter implements QueueNode, HasDeadline {
  prev: QueueNode | undefined = undefined;
  next: QueueNode | undefined = undefined;
  level: QueueNode['level'] = undefined;
  heapIndex = -1;
  resolve!: (lease: Lease | PromiseLike<never>) => void;

  constructor(
    readonly onAbort: (waiter: Waiter) => void,
    readonly cost: Cost,
    public priority: number,
    readonly enqueuedAt: number,
    /** When `timeoutMs` runs out; undefined without one. */
    public deadline: number | undefined,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** The abort listener: the waiter is its own `EventListener`, so no closure is allocated. */
  handleEvent(): void {
    this.onAbort(this);
  }

  get timeoutMs(): number {
    return this.deadline === undefined ? Number.POSITIVE_INFINITY : this.deadline - this.enqueuedAt;
  }

  reject(error: unknown): void {
    this.resolve(Promise.reject(error));
  }
}

/** What `limiter.stats()` reports. */
export interface LimiterStats {
  /** Callers waiting. */
  readonly queued: number;
  /** Leases held (admitted and not yet released). */
  readonly inFlight: number;
  /** The concurrency cap, or undefined when unlimited. */
  readonly concurrency: number | undefined;
  /** Use of each request window. */
  readonly requests: readonly WindowUsage[];
  /** Use of each token budget. */
  readonly tokens: readonly WindowUsage[];
  readonly inputTokens: readonly WindowUsage[];
  readonly outputTokens: readonly WindowUsage[];
  /** Milliseconds until a pause ends; 0 when not paused. */
  readonly pausedForMs: number;
  readonly closed: boolean;
}

/** Options of `limiter.run(fn, options)`: acquire options, plus `retry` to retry failed attempts. */
export interface RunOptions<T = unknown> extends AcquireOptions {
  /**
   * Retry failed attempts (`retry(fn, { ...retry, limiter: this, acquire })`): every attempt takes
   * its own lease, and a 429 pauses this limiter for everyone. Off when absent.
   */
  readonly retry?: Omit<RetryOptions<T, Lease>, 'limiter' | 'acquire'> | undefined;
}

/** What `fn` gets from `limiter.run(fn)` besides the lease. */
export interface RunContext {
  /** 1, or with `retry` the attempt number. */
  readonly attempt: number;
  /** Aborted when the caller's signal aborts (and, with `retry`, on attempt timeouts and the deadline). */
  readonly signal: AbortSignal;
}

/** A signal that never aborts, for runs without one. */
const NEVER_ABORTED = new AbortController().signal;

function withoutRetry(options: RunOptions<unknown>): AcquireOptions {
  if (!Object.hasOwn(options, 'retry')) return options;
  const { retry: _ignored, ...acquire } = options;
  return acquire;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function validateClock(value: unknown): Clock {
  const clock = plainObject('clock', value);
  callable('clock.now', clock.now);
  callable('clock.setTimeout', clock.setTimeout);
  callable('clock.clearTimeout', clock.clearTimeout);
  return value as Clock;
}

function validateStore(value: unknown): LimiterStore {
  const store = plainObject('store', value);
  for (const method of ['configure', 'admit', 'reconcile', 'cancel', 'release', 'pause', 'usage'] as const) {
    callable(`store.${method}`, store[method]);
  }
  return value as LimiterStore;
}

/**
 * A rate limiter for API callers: sliding-window request limits, token budgets and a concurrency
 * cap, taken together in one atomic `acquire()`.
 *
 * ```ts
 * const limiter = new Limiter({ requests: { limit: 500, windowMs: 60_000 }, tokens: { limit: 200_000, windowMs: 60_000 } });
 * await using lease = await limiter.acquire({ tokens: 1_200 });
 * ```
 *
 * Waiters are served by priority, then in arrival order; the head is never overtaken by a cheaper
 * request behind it. One timer per limiter, set for when the head can start, and none while nobody
 * waits.
 */
export class Limiter extends TypedEmitter<LimiterEvents> implements AsyncDisposable {
  readonly #clock: Clock;
  readonly #store: LimiterStore;
  readonly #synchronous: boolean;
  #limits: ResolvedOptions;
  /** Window kinds the user set: announced limits never replace these, only tighten them. */
  readonly #userSet = new Set<WindowKind>();
  /** `limits: 'auto'` before the first observation: one request at a time. */
  #probing = false;
  #observed = false;
  #maxTokens = Number.POSITIVE_INFINITY;
  #maxInput = Number.POSITIVE_INFINITY;
  #maxOutput = Number.POSITIVE_INFINITY;
  readonly #queue = new WaiterQueue<Waiter>();
  readonly #deadlines = new DeadlineHeap<Waiter>();
  #timer: TimerHandle | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #inFlight = 0;
  #closed = false;
  #draining = false;
  #redrain = false;
  /** The waiter whose admission an asynchronous store is answering. */
  #admitting: Waiter | undefined = undefined;
  /** After an asynchronous store booked a future slot for a waiter: do not ask again before then. */
  #notBefore = 0;
  #notBeforeFor: Waiter | undefined = undefined;
  readonly #owner: LeaseOwner;
  /** The last released lease, kept reachable (see `#release`). */
  readonly #kept: { lease: Lease | undefined } = { lease: undefined };
  /** Whether anyone listens to the events of the hot path: reading a field beats `listenerCount`. */
  #hearsAcquired = false;
  #hearsReleased = false;
  #hearsIdle = false;
  readonly #onAbort = (waiter: Waiter): void => this.#abort(waiter);
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#drain();
  };

  constructor(options: LimiterOptions = {}) {
    super();
    const hear = (event: string | symbol): void => {
      if (event === 'acquired') this.#hearsAcquired = this.listenerCount('acquired') !== 0;
      else if (event === 'released') this.#hearsReleased = this.listenerCount('released') !== 0;
      else if (event === 'idle') this.#hearsIdle = this.listenerCount('idle') !== 0;
    };
    // 'newListener' fires before the listener is added, 'removeListener' after it is gone.
    const emitter = this as unknown as NodeJS.EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'acquired') this.#hearsAcquired = true;
      else if (event === 'released') this.#hearsReleased = true;
      else if (event === 'idle') this.#hearsIdle = true;
    });
    emitter.on('removeListener', hear);
    plainObject('options', options);
    knownKeys('Limiter options', options, [...LIMIT_KEYS, 'clock', 'store', 'limits']);
    if (options.limits !== undefined && options.limits !== 'auto') {
      throw new TypeError(`Expected \`limits\` to be 'auto' or undefined, got ${JSON.stringify(options.limits)}`);
    }
    this.#probing = options.limits === 'auto';
    this.#clock = options.clock === undefined ? systemClock : validateClock(options.clock);
    this.#store = options.store === undefined ? new MemoryStore() : validateStore(options.store);
    this.#synchronous = this.#store instanceof MemoryStore;
    this.#limits = resolveLimits(options);
    this.#markUserSet(options);
    this.#applyLimits();
    this.#owner = {
      restamp: (_lease, entry, at) => {
        const now = this.#clock.now();
        const to = at === undefined ? now : Math.min(finiteNumber('at', at), now);
        this.#settle(this.#store.restamp?.(entry, to, now), 'restamp');
      },
      release: (lease, entry) => this.#release(lease, entry),
      reconcile: (_lease, entry, cost) => {
        this.#settle(this.#store.reconcile(entry, cost, this.#clock.now()), 'reconcile');
        if (this.#queue.size > 0) this.#drain();
      },
      cancel: (_lease, entry) => {
        this.#settle(this.#store.cancel(entry, this.#clock.now()), 'cancel');
      },
    };
  }

  /** The limits in force, in the shape `new Limiter()` and `updateLimits()` take. */
  get limits(): LimitOptions {
    return toLimitOptions(this.#limits);
  }

  /** The clock the limiter measures windows with. */
  get clock(): Clock {
    return this.#clock;
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
        if (options.tokens !== undefined) cost = resolveCost(options.tokens);
        if (options.priority !== undefined) priority = finiteNumber('priority', options.priority);
        if (options.signal !== undefined) signal = abortSignal('signal', options.signal);
        if (options.timeoutMs !== undefined) timeoutMs = nonNegativeNumber('timeoutMs', options.timeoutMs);
      } catch (error) {
        return this.#rejectNow('invalid', error);
      }
      if (signal?.aborted) return this.#rejectNow('aborted', signal.reason);
      const tooLarge = this.#capacityError(cost);
      if (tooLarge !== undefined) return this.#rejectNow('capacity', tooLarge);
    }

    const now = this.#clock.now();
    if (this.#synchronous && !this.#queue.hasAtLeast(priority)) {
      const admission = this.#store.admit(cost, now) as AdmitResult;
      if (typeof admission === 'object') return Promise.resolve(this.#lease(admission, cost, 0, now, priority));
      // Infinity means "when a lease is released": unknown, so not a reason to give up early.
      if (admission !== Number.POSITIVE_INFINITY && admission - now > timeoutMs) {
        return this.#rejectNow('timeout', new AcquireTimeoutError(timeoutMs, 0));
      }
    } else if (timeoutMs !== Number.POSITIVE_INFINITY && this.#store.earliest !== undefined) {
      // Queued behind others the wait is at least this long, so a deadline before it cannot be met.
      const earliest = this.#store.earliest(cost, now);
      if (earliest !== Number.POSITIVE_INFINITY && earliest - now > timeoutMs) {
        return this.#rejectNow('timeout', new AcquireTimeoutError(timeoutMs, 0));
      }
    }
    if (this.#queue.size >= this.#limits.maxQueue) {
      return this.#rejectNow('queue-full', new QueueFullError(this.#limits.maxQueue));
    }
    return this.#enqueue(cost, priority, now, timeoutMs, signal);
  }

  /**
   * Takes a lease only if every limit admits the cost now and nobody of the same or higher
   * priority is queued ahead; never waits. Returns undefined otherwise. Throws on invalid options
   * and `CapacityError` for a cost that can never fit; always undefined on a remote store.
   */
  tryAcquire(options?: Omit<AcquireOptions, 'signal' | 'timeoutMs'>): Lease | undefined {
    if (this.#closed) throw new LimiterClosedError();
    let cost = ZERO_COST;
    let priority = 0;
    if (options !== undefined) {
      plainObject('options', options);
      knownKeys('tryAcquire options', options, ['tokens', 'priority']);
      if (options.tokens !== undefined) cost = resolveCost(options.tokens);
      if (options.priority !== undefined) priority = finiteNumber('priority', options.priority);
      const tooLarge = this.#capacityError(cost);
      if (tooLarge !== undefined) {
        this.emit('rejected', { reason: 'capacity', error: tooLarge });
        throw tooLarge;
      }
    }
    if (!this.#synchronous || this.#queue.hasAtLeast(priority)) return undefined;
    const now = this.#clock.now();
    const admission = this.#store.admit(cost, now) as AdmitResult;
    return typeof admission === 'object' ? this.#lease(admission, cost, 0, now, priority) : undefined;
  }

  /**
   * Throws `CapacityError` when a cost can never fit this limiter's budgets (larger than a whole
   * window's limit), so a caller can refuse it before doing any work. Validates like `acquire`.
   */
  assertCanFit(tokens?: TokenCost): void {
    const tooLarge = this.#capacityError(resolveCost(tokens));
    if (tooLarge !== undefined) throw tooLarge;
  }

  /**
   * Acquires, calls `fn(lease, { attempt, signal })`, and releases in `finally`, whatever `fn`
   * does. With `{ retry: { ... } }`, failed attempts are retried as `retry()` does, each with its
   * own lease.
   */
  async run<T>(fn: (lease: Lease, context: RunContext) => T | PromiseLike<T>, options?: RunOptions<T>): Promise<T> {
    callable('fn', fn);
    if (options?.retry !== undefined) {
      const { retry: retryOptions, ...acquire } = options;
      plainObject('retry', retryOptions);
      return retry<T, Lease>(async (context) => fn(context.lease as Lease, context), {
        ...retryOptions,
        limiter: this,
        acquire,
      });
    }
    const lease = await this.acquire(options === undefined ? undefined : withoutRetry(options));
    try {
      return await fn(lease, { attempt: 1, signal: options?.signal ?? NEVER_ABORTED });
    } finally {
      lease.release();
    }
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
    this.#settle(this.#store.pause(until, now), 'pause');
    this.emit('paused', { ms, until });
    if (this.#queue.size > 0) this.#drain();
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
    this.#limits = resolveLimits(limits, this.#limits);
    this.#markUserSet(limits);
    this.#applyLimits();
    this.#rejectImpossible();
    this.emit('limitsChanged', { limits: this.limits });
    this.#drain();
    this.#checkIdle();
  }

  /**
   * Learns from a provider's rate-limit headers (`parseRateLimitHeaders(response.headers, provider)`):
   * - a limit announced for a kind you did not set is adopted (and followed when it changes);
   * - when the server says less remains than this limiter believes, someone else shares the
   *   quota: the difference becomes the others' share of that window, held one window beyond the
   *   server's reset, refreshed while later responses still show it and extended across a pause,
   *   so nothing is sent that the server would refuse. The difference is the least others must
   *   have used: as if the server had seen all our requests, including those that left a window
   *   since `since` (when the request carrying the snapshot was sent), so ours are never taken
   *   for theirs;
   * - with `limits: 'auto'`, the first observation ends the one-request-at-a-time start.
   */
  observe(snapshot: RateLimitSnapshot, options?: ObserveOptions): void {
    plainObject('snapshot', snapshot);
    const since = options?.since === undefined ? undefined : finiteNumber('since', options.since);
    if (this.#closed) return;
    const now = this.#clock.now();
    const adopted: Record<string, { limit: number; windowMs: number }> = {};
    for (const kind of WINDOW_KINDS) {
      const window = snapshot[kind];
      if (window?.limit === undefined || this.#userSet.has(kind)) continue;
      const limit = kind === 'requests' ? Math.floor(window.limit) : window.limit;
      const windowMs = window.windowMs ?? 60_000;
      if (!(limit >= 1) || !Number.isFinite(limit) || !(windowMs > 0) || !Number.isFinite(windowMs)) continue;
      const current = this.#limits[kind];
      if (current.length === 1 && current[0]?.limit === limit && current[0].windowMs === windowMs) continue;
      adopted[kind] = { limit, windowMs };
    }
    const wasProbing = this.#probing;
    this.#probing = false;
    this.#observed = true;
    if (Object.keys(adopted).length > 0 || wasProbing) {
      this.#limits = resolveLimits(adopted, this.#limits);
      this.#applyLimits();
      this.#rejectImpossible();
      this.emit('limitsChanged', { limits: this.limits });
    }
    if (this.#store.learnOthersShare !== undefined) {
      for (const kind of WINDOW_KINDS) {
        const window = snapshot[kind];
        const remaining = window?.remaining;
        if (remaining === undefined || !(remaining >= 0) || !Number.isFinite(remaining)) continue;
        const windowMs = window?.windowMs ?? this.#closestWindowMs(kind, window?.windowMs);
        // Others go on using the quota after what the server reported has cleared: hold their share
        // one window beyond the reset (later responses refresh it while they still show it).
        const resetMs = (window?.resetMs ?? windowMs) + windowMs;
        const absorbed = this.#store.learnOthersShare(
          {
            kind,
            windowMs: window?.windowMs,
            remaining,
            since: Math.min(since ?? now, now),
            until: now + Math.max(0, resetMs),
          },
          now,
        );
        if (absorbed > 0 && this.listenerCount('othersShare') !== 0)
          this.emit('othersShare', { kind, amount: absorbed, remaining });
      }
    }
    if (this.#queue.size > 0) this.#drain();
  }

  /** Queue length, leases held, use of every window, and how long a pause has left. */
  stats(): LimiterStats {
    const now = this.#clock.now();
    const usage = this.#store.usage(now);
    return {
      queued: this.#queue.size,
      inFlight: this.#inFlight,
      concurrency: Number.isFinite(this.#limits.concurrency) ? this.#limits.concurrency : undefined,
      requests: usage.requests,
      tokens: usage.tokens,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      pausedForMs: usage.pausedUntil > now ? usage.pausedUntil - now : 0,
      closed: this.#closed,
    };
  }

  /** True once `observe()` has been called: the limiter has heard from the provider. */
  get observed(): boolean {
    return this.#observed;
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
    this.#clearTimer();
    const error = new LimiterClosedError();
    // Evicting takes each waiter out of the deadline heap too.
    for (const waiter of this.#queue) this.#evict(waiter, 'closed', error);
    await this.#store.close?.();
  }

  /** Closes the limiter: `await using limiter = new Limiter(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The length of this limiter's window of `kind` that a report about `windowMs` applies to. */
  #closestWindowMs(kind: WindowKind, windowMs: number | undefined): number {
    const windows = this.#limits[kind];
    if (windows.length === 0) return 60_000;
    const exact = windows.find((w) => w.windowMs === windowMs);
    return exact?.windowMs ?? Math.max(...windows.map((w) => w.windowMs));
  }

  #markUserSet(options: LimitOptions): void {
    for (const kind of WINDOW_KINDS) {
      if (!Object.hasOwn(options, kind)) continue;
      if (options[kind] === undefined) this.#userSet.delete(kind);
      else this.#userSet.add(kind);
    }
  }

  #applyLimits(): void {
    const limits = this.#limits;
    const min = (ws: readonly { limit: number }[]): number =>
      ws.reduce((m, w) => Math.min(m, w.limit), Number.POSITIVE_INFINITY);
    this.#maxTokens = min(limits.tokens);
    this.#maxInput = min(limits.inputTokens);
    this.#maxOutput = min(limits.outputTokens);
    // Learning the limits: one request at a time until the first response tells them.
    this.#store.configure(this.#probing ? { ...limits, concurrency: 1 } : limits);
  }

  /** New limits may make a waiting cost impossible: such waiters get `CapacityError` now. */
  #rejectImpossible(): void {
    for (const waiter of this.#queue) {
      const tooLarge = this.#capacityError(waiter.cost);
      if (tooLarge !== undefined) this.#evict(waiter, 'capacity', tooLarge);
    }
  }

  #capacityError(cost: Cost): CapacityError | undefined {
    const total = cost.input + cost.output;
    if (total > this.#maxTokens) return new CapacityError('tokens', total, this.#maxTokens);
    if (cost.input > this.#maxInput) return new CapacityError('inputTokens', cost.input, this.#maxInput);
    if (cost.output > this.#maxOutput) return new CapacityError('outputTokens', cost.output, this.#maxOutput);
    return undefined;
  }

  #rejectNow(reason: RejectReason, error: unknown): Promise<never> {
    this.emit('rejected', { reason, error });
    return Promise.reject(error);
  }

  #lease(entry: StoreEntry, cost: Cost, waitedMs: number, now: number, priority: number): Lease {
    this.#inFlight++;
    const lease = new Lease(this.#owner, entry, cost, waitedMs, now);
    // The hot path: build no payload nobody listens to.
    if (this.#hearsAcquired) {
      this.emit('acquired', { waitedMs, input: cost.input, output: cost.output, priority });
    }
    return lease;
  }

  #enqueue(
    cost: Cost,
    priority: number,
    now: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Lease> {
    const deadline = timeoutMs === Number.POSITIVE_INFINITY ? undefined : now + timeoutMs;
    const waiter = new Waiter(this.#onAbort, cost, priority, now, deadline, signal);
    const promise = new Promise<Lease>((resolve) => {
      waiter.resolve = resolve;
    });
    this.#queue.push(waiter);
    if (timeoutMs !== Number.POSITIVE_INFINITY) this.#deadlines.push(waiter);
    signal?.addEventListener('abort', waiter, { once: true });
    this.emit('queued', { queued: this.#queue.size, priority });
    if (this.#queue.peek() === waiter) this.#drain();
    else if (timeoutMs !== Number.POSITIVE_INFINITY) this.#setTimer(this.#nextDeadline());
    return promise;
  }

  /** Admits waiters from the head while the store allows, then sets the one timer. */
  #drain(): void {
    if (this.#draining) {
      this.#redrain = true;
      return;
    }
    this.#draining = true;
    try {
      do {
        this.#redrain = false;
        this.#drainOnce();
      } while (this.#redrain);
    } finally {
      this.#draining = false;
    }
  }

  #drainOnce(): void {
    for (;;) {
      const now = this.#clock.now();
      let expired = this.#deadlines.peek();
      while (expired?.deadline !== undefined && expired.deadline <= now) {
        this.#evict(expired, 'timeout', new AcquireTimeoutError(expired.timeoutMs, now - expired.enqueuedAt));
        expired = this.#deadlines.peek();
      }
      const head = this.#queue.peek();
      if (head === undefined || this.#closed) {
        this.#clearTimer();
        this.#checkIdle();
        return;
      }
      if (this.#admitting !== undefined) {
        this.#setTimer(this.#nextDeadline());
        return;
      }
      if (this.#notBeforeFor === head && this.#notBefore > now) {
        this.#setTimer(Math.min(this.#notBefore, this.#nextDeadline()));
        return;
      }
      const admission = this.#store.admit(head.cost, now, head);
      if (typeof admission === 'number') {
        if (head.deadline !== undefined && admission !== Number.POSITIVE_INFINITY && admission > head.deadline) {
          // The head cannot start before its deadline: say so now rather than at the deadline.
          this.#evict(head, 'timeout', new AcquireTimeoutError(head.timeoutMs, now - head.enqueuedAt));
          continue;
        }
        this.#setTimer(Math.min(admission, this.#nextDeadline()));
        return;
      }
      if (isThenable(admission)) {
        this.#awaitAdmission(head, admission);
        this.#setTimer(this.#nextDeadline());
        return;
      }
      this.#grant(head, admission, now);
    }
  }

  /** An asynchronous store is deciding about `waiter`; only one such question is open at a time. */
  #awaitAdmission(waiter: Waiter, pending: PromiseLike<AdmitResult>): void {
    this.#admitting = waiter;
    pending.then(
      (admission) => {
        this.#admitting = undefined;
        const now = this.#clock.now();
        const stillWaiting = waiter.level !== undefined;
        if (typeof admission === 'object') {
          if (stillWaiting && !this.#closed) this.#grant(waiter, admission, now);
          else {
            // The waiter left while the store admitted it: the request is never sent.
            this.#settle(this.#store.cancel(admission, now), 'cancel');
            this.#settle(this.#store.release(admission, now), 'release');
          }
        } else if (Number.isFinite(admission)) {
          this.#notBefore = admission;
          this.#notBeforeFor = waiter;
          if (stillWaiting && waiter.deadline !== undefined && admission > waiter.deadline) {
            this.#evict(waiter, 'timeout', new AcquireTimeoutError(waiter.timeoutMs, now - waiter.enqueuedAt));
          }
        }
        this.#drain();
      },
      (error: unknown) => {
        this.#admitting = undefined;
        if (waiter.level !== undefined) this.#evict(waiter, 'store', error);
        this.#drain();
      },
    );
  }

  #grant(waiter: Waiter, entry: StoreEntry, now: number): void {
    this.#detach(waiter);
    waiter.resolve(this.#lease(entry, waiter.cost, now - waiter.enqueuedAt, now, waiter.priority));
  }

  /** Takes a waiter out of the queue, the deadline heap and its signal's listeners. */
  #detach(waiter: Waiter): void {
    this.#queue.remove(waiter);
    this.#deadlines.remove(waiter);
    waiter.signal?.removeEventListener('abort', waiter);
    if (this.#notBeforeFor === waiter) this.#notBeforeFor = undefined;
    this.#store.withdraw?.(waiter);
  }

  #evict(waiter: Waiter, reason: RejectReason, error: unknown): void {
    this.#detach(waiter);
    waiter.reject(error);
    this.emit('rejected', { reason, error });
  }

  #abort(waiter: Waiter): void {
    if (waiter.level === undefined) return;
    const wasHead = this.#queue.peek() === waiter;
    this.#evict(waiter, 'aborted', waiter.signal?.reason);
    // Those behind a head that could not start may fit now.
    if (wasHead) this.#drain();
    else this.#checkIdle();
  }

  #release(lease: Lease, entry: StoreEntry): void {
    this.#inFlight--;
    // Keeps one lease reachable: when none is alive at a full collection, V8 may drop the hidden
    // classes and optimised code of the hot path, and every later acquire pays to rebuild them.
    this.#kept.lease = lease;
    const listening = this.#hearsReleased;
    // The memory store needs no time to release; reading the clock is a cost on the hot path.
    const now = listening || !this.#synchronous ? this.#clock.now() : 0;
    const released = this.#store.release(entry, now);
    if (!this.#synchronous) {
      this.#settle(released, 'release');
      // A waiter told to ask again later because every slot was taken may start now: ask at once.
      this.#notBeforeFor = undefined;
    }
    if (listening) this.emit('released', { heldMs: now - lease.acquiredAt, cancelled: lease.cancelled });
    if (this.#queue.size > 0) this.#drain();
    else this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#hearsIdle && this.#inFlight === 0 && this.#queue.size === 0) this.emit('idle');
  }

  #nextDeadline(): number {
    return this.#deadlines.peek()?.deadline ?? Number.POSITIVE_INFINITY;
  }

  /** Makes sure the one timer fires no later than `at`; an earlier wake-up re-arms for the rest. */
  #setTimer(at: number): void {
    if (at === Number.POSITIVE_INFINITY) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - this.#clock.now())));
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** Store writes that answer with a promise must not fail silently, nor as unhandled rejections. */
  #settle(result: unknown, operation: StoreErrorEvent['operation']): void {
    if (isThenable(result)) {
      result.then(undefined, (error: unknown) => this.emit('storeError', { operation, error }));
    }
  }
}
