import type { StoreErrorEvent } from '../core/events.js';
import type { Cost, ResolvedLimits } from '../core/vocabulary.js';
import type { Clock } from '../internal/clock.js';
import { isThenable } from '../internal/is-thenable.js';
import { type StoreCapabilities, storeCapabilities, storeName } from '../stores/capabilities.js';
import type { AdmitResult, LimiterStore, StoreEntry, StoreUsage } from '../stores/store.js';
import type { Waiter } from './waiter.js';

/** `admitHead`'s answer when the store will answer later (through `onAnswer`). */
export const PENDING = Symbol('pending');

/** What an asynchronous store finally said about a waiter. */
export type LateAnswer = { readonly entry: StoreEntry } | { readonly at: number } | { readonly error: unknown };

type WriteOperation = StoreErrorEvent['operation'];

/**
 * The protocol between the scheduler and a store: synchronous stores are asked directly (the hot
 * path), asynchronous ones one `admit` at a time, with the slot a store booked for a waiter
 * honoured (no asking again before it). Failed writes are reported, never unhandled; a store that
 * declares `synchronous: true` and answers with a promise fails that call with a `TypeError`.
 */
export class StoreDriver {
  readonly store: LimiterStore;
  readonly capabilities: StoreCapabilities;
  readonly synchronous: boolean;
  /** The waiter whose admission an asynchronous store is answering. */
  #admitting: Waiter | undefined = undefined;
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

  /**
   * Asks the store about the head of the queue: an entry (admitted), a time to ask again, or
   * `PENDING` when an answer is awaited (another admission's, or this one's, given later to
   * `onAnswer`). Throws when a synchronous store breaks its word.
   */
  admitHead(waiter: Waiter, now: number): StoreEntry | number | typeof PENDING {
    if (this.#admitting !== undefined) return PENDING;
    if (this.#notBeforeFor === waiter && this.#notBefore > now) return this.#notBefore;
    const result = this.store.admit(waiter.cost, now, waiter);
    if (typeof result !== 'object' || !isThenable(result)) return result;
    if (this.synchronous) throw this.#notSynchronous('admit', result);
    this.#admitting = waiter;
    this.#roomMadeMeanwhile = false;
    waiter.asked = true;
    result.then(
      (answer) => {
        this.#admitting = undefined;
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
      },
      (error: unknown) => {
        this.#admitting = undefined;
        this.#onAnswer(waiter, { error });
      },
    );
    return PENDING;
  }

  /** Whether `waiter`'s admission is what the store is answering now. */
  isAdmitting(waiter: Waiter): boolean {
    return this.#admitting === waiter;
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
    if (this.#admitting !== undefined) this.#roomMadeMeanwhile = true;
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
