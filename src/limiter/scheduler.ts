import { AcquireTimeoutError, CandidateWithdrawn } from '../core/errors.js';
import type { RejectReason } from '../core/events.js';
import type { Cost } from '../core/vocabulary.js';
import type { Clock, TimerHandle } from '../internal/clock.js';
import { DeadlineHeap } from '../internal/deadline-heap.js';
import { WaiterQueue } from '../internal/waiter-queue.js';
import type { StoreEntry } from '../stores/store.js';
import type { Lease } from './lease.js';
import { type LateAnswer, PENDING, type StoreDriver } from './store-driver.js';
import { Waiter } from './waiter.js';
import type { Block } from './diagnose.js';

/**
 * The most waiters asked about in one round trip to a store with `admitMany`: enough that 64
 * callers are served by one answer, small enough that one round trip (a Redis script's run, which
 * holds up every other client of the server) stays short.
 */
export const MAX_BATCH = 64;

/** Whether a start at `at` is beyond a wait of `timeoutMs` from `now`. Infinity means "when a lease is released": unknown, so not a reason to give up early. */
export function cannotMeet(at: number, now: number, timeoutMs: number): boolean {
  return at !== Number.POSITIVE_INFINITY && at - now > timeoutMs;
}

/** What the scheduler asks of the limiter it serves. */
export interface SchedulerHost {
  /** Issues the lease of an admitted waiter. */
  lease(
    entry: StoreEntry,
    cost: Cost,
    waitedMs: number,
    now: number,
    priority: number,
    blockedBy: readonly Block[],
  ): Lease;
  /** A waiter left the queue rejected, after waiting `waitedMs`. */
  rejected(reason: RejectReason, error: unknown, waitedMs: number): void;
  /** A caller joined the queue (`queued` is the queue's length with it). */
  queued(waiter: Waiter, queued: number): void;
  /** The queue may have run empty: the limiter may be idle. */
  settled(): void;
  /**
   * Until when the limiter holds admissions back itself (one request first, adaptive concurrency,
   * a pace): in the past when the head may be asked now; Infinity until a release re-drains.
   */
  holdUntil(now: number): number;
  /**
   * How many admissions the limiter lets start together now, beside what the store allows:
   * Infinity unless a gate counts them (one while the first contact or a pace holds; the adaptive
   * cap less the leases held). Asked only for a store that admits several waiters per round trip.
   */
  room(now: number): number;
}

/**
 * The queue and its one timer: waiters by priority then arrival, a deadline heap for `timeoutMs`
 * (no timer per waiter), and one timer set for when the head can start (none while nobody waits).
 * The head is never overtaken by a cheaper request behind it.
 */
export class Scheduler {
  readonly #clock: Clock;
  readonly #driver: StoreDriver;
  /** The store answers later and admits several waiters per round trip (`admitMany`). */
  readonly #batching: boolean;
  readonly #host: SchedulerHost;
  readonly #queue = new WaiterQueue<Waiter>();
  readonly #deadlines = new DeadlineHeap<Waiter>();
  #timer: TimerHandle | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #draining = false;
  #redrain = false;
  #closed = false;
  readonly #onAbort = (waiter: Waiter): void => this.#abort(waiter);
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.drain();
  };

  constructor(clock: Clock, driver: StoreDriver, host: SchedulerHost) {
    this.#clock = clock;
    this.#driver = driver;
    this.#batching = driver.batching;
    this.#host = host;
  }

  /** Callers waiting. */
  get size(): number {
    return this.#queue.size;
  }

  /** The head of the queue. */
  get head(): Waiter | undefined {
    return this.#queue.peek();
  }

  /** Whether someone of `priority` or higher waits (a newcomer of `priority` must queue behind). */
  hasAtLeast(priority: number): boolean {
    return this.#queue.hasAtLeast(priority);
  }

  /** Queues a caller; the promise settles when it is admitted, rejected or aborted. */
  enqueue(
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
    if (deadline !== undefined) this.#deadlines.push(waiter);
    signal?.addEventListener('abort', waiter, { once: true });
    this.#host.queued(waiter, this.#queue.size);
    if (this.#queue.peek() === waiter) this.drain();
    else if (deadline !== undefined) this.#setTimer(this.#nextDeadline());
    return promise;
  }

  /** Rejects every waiter for which `check` returns an error (new limits made its cost impossible). */
  rejectWhere(reason: RejectReason, check: (cost: Cost) => unknown): void {
    for (const waiter of this.#queue) {
      const error = check(waiter.cost);
      if (error !== undefined) this.#evict(waiter, reason, error);
    }
  }

  /** Rejects every waiter with `error` and stops the timer; later drains do nothing. */
  close(error: unknown): void {
    this.#closed = true;
    this.#clearTimer();
    // Evicting takes each waiter out of the deadline heap too.
    for (const waiter of this.#queue) this.#evict(waiter, 'closed', error);
  }

  /** Admits waiters from the head while the store allows, then sets the one timer. */
  drain(): void {
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
      // An asynchronous store's head is asked before its deadline is judged: with `timeoutMs: 0`
      // it starts if the store admits it now, however long the round trip.
      const fresh = this.#queue.peek();
      const exempt = fresh !== undefined && !fresh.asked && !this.#driver.synchronous ? fresh : undefined;
      if (exempt !== undefined) this.#deadlines.remove(exempt);
      let expired = this.#deadlines.peek();
      while (expired?.deadline !== undefined && expired.deadline <= now) {
        this.#timeOut(expired, now);
        expired = this.#deadlines.peek();
      }
      if (exempt?.deadline !== undefined && exempt.waiting) this.#deadlines.push(exempt);
      const head = this.#queue.peek();
      if (head === undefined || this.#closed) {
        this.#clearTimer();
        this.#host.settled();
        return;
      }
      const hold = this.#host.holdUntil(now);
      if (hold > now) {
        this.#setTimer(Math.min(hold, this.#nextDeadline()));
        return;
      }
      let answer: StoreEntry | number | typeof PENDING;
      try {
        answer = this.#batching ? this.#admitBatch(head, now) : this.#driver.admitHead(head, now);
      } catch (error) {
        this.#evict(head, 'store', error);
        continue;
      }
      if (answer === PENDING) {
        // Its deadline waits for the store's answer, which `answer()` judges.
        if (this.#driver.isAdmitting(head)) this.#deadlines.remove(head);
        this.#setTimer(this.#nextDeadline());
        return;
      }
      if (typeof answer === 'number') {
        if (this.#beyondDeadline(head, answer)) {
          // The head cannot start before its deadline: say so now rather than at the deadline.
          this.#timeOut(head, now);
          continue;
        }
        this.#setTimer(Math.min(answer, this.#nextDeadline()));
        return;
      }
      this.#grant(head, answer, now);
    }
  }

  /**
   * Asks the store about the head and those behind it in queue order in one round trip: at most
   * `MAX_BATCH`, and no more than the limiter's own gates let start together now.
   */
  #admitBatch(head: Waiter, now: number): StoreEntry | number | typeof PENDING {
    const driver = this.#driver;
    if (driver.answering) return PENDING;
    const room = Math.min(MAX_BATCH, this.#host.room(now));
    if (room <= 1) return driver.admitHead(head, now);
    const batch: Waiter[] = [];
    for (const waiter of this.#queue) {
      batch.push(waiter);
      if (batch.length >= room) break;
    }
    const answer = driver.admitBatch(batch, now);
    // Their deadlines wait for the store's answer, which `answer()` judges (and puts back).
    if (answer === PENDING) for (const waiter of batch) this.#deadlines.remove(waiter);
    return answer;
  }

  /** What an asynchronous store answered about `waiter`, once it answered. */
  answer(waiter: Waiter, answer: LateAnswer): void {
    const now = this.#clock.now();
    if ('entry' in answer) {
      if (waiter.waiting && !this.#closed) this.#grant(waiter, answer.entry, now);
      // The waiter left while the store admitted it: the request is never sent.
      else this.#driver.undo(answer.entry, now);
    } else if ('at' in answer) {
      if (waiter.waiting && this.#beyondDeadline(waiter, answer.at)) this.#timeOut(waiter, now);
      else this.#restoreDeadline(waiter);
    } else if ('error' in answer) {
      if (waiter.waiting) this.#evict(waiter, 'store', answer.error);
    } else {
      // Left out of a batch's answer: it waits on, to be asked again.
      this.#restoreDeadline(waiter);
    }
    this.drain();
  }

  /** A waiter whose answer was on the wire is judged by its deadline again, if it still waits. */
  #restoreDeadline(waiter: Waiter): void {
    if (waiter.waiting && waiter.deadline !== undefined && waiter.heapIndex < 0) this.#deadlines.push(waiter);
  }

  /** Infinity means "when a lease is released": unknown, so not a reason to give up early. */
  #beyondDeadline(waiter: Waiter, at: number): boolean {
    return waiter.deadline !== undefined && at !== Number.POSITIVE_INFINITY && at > waiter.deadline;
  }

  #timeOut(waiter: Waiter, now: number): void {
    this.#evict(waiter, 'timeout', new AcquireTimeoutError(waiter.timeoutMs, now - waiter.enqueuedAt));
  }

  #grant(waiter: Waiter, entry: StoreEntry, now: number): void {
    this.#detach(waiter);
    const { cost, enqueuedAt, priority, blockedBy } = waiter;
    waiter.resolve(this.#host.lease(entry, cost, now - enqueuedAt, now, priority, blockedBy));
  }

  /** Takes a waiter out of the queue, the deadline heap, its signal's listeners and the store's bookings. */
  #detach(waiter: Waiter): void {
    this.#queue.remove(waiter);
    this.#deadlines.remove(waiter);
    waiter.signal?.removeEventListener('abort', waiter);
    this.#driver.withdraw(waiter);
  }

  #evict(waiter: Waiter, reason: RejectReason, error: unknown): void {
    this.#detach(waiter);
    waiter.reject(error);
    this.#host.rejected(reason, error, this.#clock.now() - waiter.enqueuedAt);
  }

  #abort(waiter: Waiter): void {
    if (!waiter.waiting) return;
    const wasHead = this.#queue.peek() === waiter;
    const reason = waiter.signal?.reason;
    this.#evict(waiter, reason instanceof CandidateWithdrawn ? 'withdrawn' : 'aborted', reason);
    // Those behind a head that could not start may fit now.
    if (wasHead) this.drain();
    else this.#host.settled();
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
}
