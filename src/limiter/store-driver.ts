import type { StoreErrorEvent } from '../core/events.js';
import type { Cost, ResolvedLimits } from '../core/vocabulary.js';
import type { Clock } from '../internal/clock.js';
import { describeValue } from '../internal/describe.js';
import { isThenable } from '../internal/is-thenable.js';
import { type StoreCapabilities, storeCapabilities, storeName } from '../stores/capabilities.js';
import type { AdmitResult, LimiterStore, MaybePromise, StoreEntry, StoreUsage } from '../stores/store.js';
import type { Waiter } from './waiter.js';

/** `admitHead`'s answer when the store will answer later (through `onAnswer`). */
export const PENDING = Symbol('pending');

/** What an asynchronous store finally said about a waiter (`ASK_AGAIN`: nothing, in a batch's answer). */
export type LateAnswer =
  | { readonly entry: StoreEntry }
  | { readonly at: number }
  | { readonly error: unknown }
  | typeof ASK_AGAIN;

/** A waiter a batch's answer left out (the store answered a shorter prefix): it is asked again. */
export const ASK_AGAIN: { readonly again: true } = Object.freeze({ again: true });

type WriteOperation = StoreErrorEvent['operation'];

/**
 * The protocol between the scheduler and a store: synchronous stores are asked directly (the hot
 * path), asynchronous ones one round trip at a time (one `admit`, or one `admitMany` for several
 * waiters), with the slot a store booked for a waiter honoured (no asking again before it). Failed
 * writes are reported, never unhandled; a store that declares `synchronous: true` and answers with
 * a promise, or whose `admitMany` answers out of shape, fails that call with a `TypeError`.
 */
export class StoreDriver {
  readonly store: LimiterStore;
  readonly capabilities: StoreCapabilities;
  readonly synchronous: boolean;
  /** The store answers later and has `admitMany`: several waiters may be asked in one round trip. */
  readonly batching: boolean;
  /** The waiters whose admission an asynchronous store is answering (one, or a batch). */
  readonly #admitting = new Set<Waiter>();
  /** Room was made while that answer was on the wire: a "later" in it may already be stale. */
  #roomMadeMeanwhile = false;
  /** After an asynchronous store booked a future slot for a waiter: do not ask again before then. */
  #notBefore = 0;
  #notBeforeFor: Waiter | undefined = undefined;
  readonly #onAnswer: (waiter: Waiter, answer: LateAnswer) => void;
  readonly #onWriteError: (operation: WriteOperation, error: unknown) => void;

  readonly #clock: Clock;

  constructor(
    store: LimiterStore,
    clock: Clock,
    onAnswer: (waiter: Waiter, answer: LateAnswer) => void,
    onWriteError: (operation: WriteOperation, error: unknown) => void,
  ) {
    this.store = store;
    this.#clock = clock;
    this.capabilities = storeCapabilities(store);
    this.synchronous = this.capabilities.synchronous;
    this.batching = !this.synchronous && this.capabilities.batchAdmit;
    this.#onAnswer = onAnswer;
    this.#onWriteError = onWriteError;
  }

  configure(limits: ResolvedLimits): void {
    this.store.configure(limits, this.#clock);
    this.roomMade();
  }

  usage(now: number): StoreUsage {
    return this.store.usage(now);
  }

  /** When `cost` could start, or undefined when the store cannot tell cheaply. */
  earliest(cost: Cost, now: number): number | undefined {
    return this.store.earliest?.(cost, now);
  }

  /** The hot path, for synchronous stores: an entry, or when the cost could start. */
  admitNow(cost: Cost, now: number): AdmitResult {
    const result = this.store.admit(cost, now);
    if (typeof result === 'object' && isThenable(result)) throw this.#notSynchronous('admit', result);
    return result;
  }

  /** Whether an asynchronous store's answer is awaited: nothing more is asked until it comes. */
  get answering(): boolean {
    return this.#admitting.size !== 0;
  }

  /**
   * Asks the store about the head of the queue: an entry (admitted), a time to ask again, or
   * `PENDING` when an answer is awaited (another admission's, or this one's, given later to
   * `onAnswer`). Throws when a synchronous store breaks its word.
   */
  admitHead(waiter: Waiter, now: number): StoreEntry | number | typeof PENDING {
    if (this.#admitting.size !== 0) return PENDING;
    if (this.#notBeforeFor === waiter && this.#notBefore > now) return this.#notBefore;
    const result = this.store.admit(waiter.cost, now, waiter);
    if (typeof result !== 'object' || !isThenable(result)) return result;
    if (this.synchronous) throw this.#notSynchronous('admit', result);
    this.#send(waiter);
    result.then(
      (answer) => this.#settle(waiter, answer),
      (error: unknown) => this.#fail(waiter, error),
    );
    return PENDING;
  }

  /**
   * Asks the store about `waiters` (the head first, then those behind it in queue order) in one
   * `admitMany` round trip; one waiter, or a store without it, goes to `admitHead`. Answers as
   * `admitHead` does for the head: a time when the head's booking is not due (nobody is asked),
   * else `PENDING`, each waiter's answer given later to `onAnswer` in order: the admitted, then the
   * one told to wait, then `ASK_AGAIN` for those the store left out.
   */
  admitBatch(waiters: readonly Waiter[], now: number): StoreEntry | number | typeof PENDING {
    const head = waiters[0] as Waiter;
    const admitMany = this.store.admitMany;
    if (waiters.length === 1 || admitMany === undefined) return this.admitHead(head, now);
    if (this.#admitting.size !== 0) return PENDING;
    if (this.#notBeforeFor === head && this.#notBefore > now) return this.#notBefore;
    let result: MaybePromise<readonly AdmitResult[]>;
    const requests = waiters.map((waiter) => ({ cost: waiter.cost, waiter }));
    try {
      result = admitMany.call(this.store, requests, now);
    } catch (error) {
      // As a failed round trip: every waiter asked is told, not only the head.
      result = Promise.reject(error);
    }
    for (const waiter of waiters) this.#send(waiter);
    Promise.resolve(result).then(
      (answers) => this.#settleBatch(waiters, answers),
      (error: unknown) => {
        for (const waiter of waiters) this.#fail(waiter, error);
      },
    );
    return PENDING;
  }

  /** Whether `waiter`'s admission is what the store is answering now. */
  isAdmitting(waiter: Waiter): boolean {
    return this.#admitting.has(waiter);
  }

  /** The waiter left the queue: forget what was booked for it. */
  withdraw(waiter: Waiter): void {
    if (this.#notBeforeFor === waiter) this.#notBeforeFor = undefined;
    this.store.withdraw?.(waiter);
  }

  /** An entry admitted for a waiter that left meanwhile: the request is never sent. */
  undo(entry: StoreEntry, now: number): void {
    this.cancel(entry, now);
    this.release(entry, now);
  }

  reconcile(entry: StoreEntry, cost: Cost, now: number): void {
    this.#reportFailures(this.store.reconcile(entry, cost, now), 'reconcile');
    this.roomMade();
  }

  cancel(entry: StoreEntry, now: number): void {
    this.#reportFailures(this.store.cancel(entry, now), 'cancel');
    this.roomMade();
  }

  release(entry: StoreEntry, now: number): void {
    const result = this.store.release(entry, now);
    if (result !== undefined) this.#reportFailures(result, 'release');
    this.roomMade();
  }

  /**
   * Something may have made room sooner than the store last said (a release, a cancel, a refund,
   * new limits): the head told to ask again later asks at once.
   */
  roomMade(): void {
    this.#notBeforeFor = undefined;
    if (this.#admitting.size !== 0) this.#roomMadeMeanwhile = true;
  }

  /** Counts the entry from `at`; false when the store cannot (no `restamp`). */
  restamp(entry: StoreEntry, at: number, now: number): boolean {
    if (this.store.restamp === undefined) return false;
    this.#reportFailures(this.store.restamp(entry, at, now), 'restamp');
    return true;
  }

  pause(until: number, now: number): void {
    this.#reportFailures(this.store.pause(until, now), 'pause');
  }

  close(): Promise<void> | void {
    return this.store.close?.();
  }

  /** `waiter`'s admission is on the wire: its answer, not the round trip, judges its deadline. */
  #send(waiter: Waiter): void {
    if (this.#admitting.size === 0) this.#roomMadeMeanwhile = false;
    this.#admitting.add(waiter);
    waiter.asked = true;
  }

  /**
   * Gives `onAnswer` what the store said about one waiter on the wire. It leaves the set first:
   * while others of its batch are still marked, the drain its answer causes asks nothing, so the
   * drain after the last one asks anew.
   */
  #settle(waiter: Waiter, answer: AdmitResult): void {
    this.#admitting.delete(waiter);
    if (typeof answer === 'object') {
      this.#onAnswer(waiter, { entry: answer });
      return;
    }
    // A time to ask again (or Infinity: not before room is made); anything that makes room
    // sooner calls `roomMade()`. Room made while the store was answering (a release sent
    // after the admission) may not be in the answer: then the head asks again at once.
    if (!this.#roomMadeMeanwhile) {
      this.#notBefore = answer;
      this.#notBeforeFor = waiter;
    }
    this.#onAnswer(waiter, { at: answer });
  }

  #fail(waiter: Waiter, error: unknown): void {
    this.#admitting.delete(waiter);
    this.#onAnswer(waiter, { error });
  }

  /** What `admitMany` answered about `waiters`, checked against its contract, given out in order. */
  #settleBatch(waiters: readonly Waiter[], answers: unknown): void {
    const problem = batchAnswerProblem(answers, waiters.length);
    if (problem !== undefined) {
      // An answer out of shape cannot say whose its entries are: none is used, each is given back
      // (before the waiters are told, so the drain that follows sees the room).
      if (Array.isArray(answers)) for (const answer of answers as unknown[]) this.#undoStray(answer);
      const error = new TypeError(`The ${storeName(this.store)}'s \`admitMany\` ${problem}`);
      for (const waiter of waiters) this.#fail(waiter, error);
      return;
    }
    const results = answers as readonly AdmitResult[];
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i] as Waiter;
      const result = results[i];
      if (result !== undefined) {
        this.#settle(waiter, result);
      } else {
        this.#admitting.delete(waiter);
        this.#onAnswer(waiter, ASK_AGAIN);
      }
    }
  }

  /** Gives back an entry of a malformed batch answer; its failures are reported, never thrown. */
  #undoStray(answer: unknown): void {
    if (typeof answer !== 'object' || answer === null) return;
    try {
      this.undo(answer as StoreEntry, this.#clock.now());
    } catch (error) {
      this.#onWriteError('cancel', error);
    }
  }

  /** A write that answers with a promise must not fail silently, nor as an unhandled rejection. */
  #reportFailures(result: unknown, operation: WriteOperation): void {
    if (!isThenable(result)) return;
    if (this.synchronous) {
      this.#onWriteError(operation, this.#notSynchronous(operation, result));
      return;
    }
    result.then(undefined, (error: unknown) => this.#onWriteError(operation, error));
  }

  #notSynchronous(operation: string, result: PromiseLike<unknown>): TypeError {
    // The promise still settles: keep its failure from becoming an unhandled rejection.
    result.then(undefined, () => undefined);
    const name = storeName(this.store);
    return new TypeError(
      `The ${name} declares \`synchronous: true\`, but its \`${operation}\` returned a promise; leave \`synchronous\` out for a store that answers later`,
    );
  }
}

/**
 * What is wrong with an `admitMany` answer to `asked` requests, in words for a `TypeError`; undefined
 * when it keeps the contract: an array of one to `asked` results, each an entry or a time, and
 * nothing after a time (no request admitted after one that was not).
 */
function batchAnswerProblem(answers: unknown, asked: number): string | undefined {
  if (!Array.isArray(answers)) return `answered ${describeValue(answers)}, not an array of results`;
  if (answers.length === 0) return `answered no result for ${asked} requests: at least the first must be answered`;
  if (answers.length > asked) return `answered ${answers.length} results for ${asked} requests`;
  for (let i = 0; i < answers.length; i++) {
    const answer: unknown = answers[i];
    const entry = typeof answer === 'object' && answer !== null;
    if (!entry && (typeof answer !== 'number' || Number.isNaN(answer))) {
      return `answered ${describeValue(answer)} for request ${i + 1}: expected an entry or a time`;
    }
    if (!entry && i < answers.length - 1) {
      return `answered a time for request ${i + 1} and results after it: nothing may be answered after the first request not admitted`;
    }
  }
  return undefined;
}
