import { resolveCost } from './limits.js';
import type { Cost } from '../core/vocabulary.js';
import type { StoreEntry } from '../stores/store.js';
import type { ReconcileOptions } from './options.js';
import type { TokenCost } from '../core/vocabulary.js';
import type { Limiter } from './limiter.js';

/** What a lease asks of the limiter that issued it. */
export interface LeaseOwner {
  /** The limiter that issued the lease. */
  readonly limiter: Limiter;
  release(lease: Lease, entry: StoreEntry): void;
  reconcile(lease: Lease, entry: StoreEntry, cost: Cost, before: Cost, estimate: boolean): void;
  cancel(lease: Lease, entry: StoreEntry): void;
  restamp(lease: Lease, entry: StoreEntry, at: number | undefined): void;
  overloaded(lease: Lease): void;
}

/**
 * Permission to start one request, returned by `limiter.acquire()`. Hold it while the request
 * runs; `await using lease = await limiter.acquire()` (or `using`) releases it at the end of the
 * block. Releasing frees the concurrency slot; the request's start and tokens stay in the windows.
 */
export class Lease implements Disposable, AsyncDisposable {
  /** How long the caller waited in the queue, in milliseconds. */
  readonly waitedMs: number;
  /** When the request was admitted, on the limiter's clock. */
  readonly acquiredAt: number;
  readonly #owner: LeaseOwner;
  readonly #entry: StoreEntry;
  #cost: Cost;
  #released = false;
  #cancelled = false;
  #overloaded = false;

  /** @internal Leases come from `limiter.acquire()` and `limiter.tryAcquire()`. */
  constructor(owner: LeaseOwner, entry: StoreEntry, cost: Cost, waitedMs: number, acquiredAt: number) {
    this.#owner = owner;
    this.#entry = entry;
    this.#cost = cost;
    this.waitedMs = waitedMs;
    this.acquiredAt = acquiredAt;
  }

  /** The limiter that admitted this request (with `acquireAny`, the candidate that did). */
  get limiter(): Limiter {
    return this.#owner.limiter;
  }

  /** The tokens currently charged for this request (the reservation, or what it was reconciled to). */
  get tokens(): Cost {
    return this.#cost;
  }

  /** True once `release()` (or `cancel()`, or disposal) ran. */
  get released(): boolean {
    return this.#released;
  }

  /** True once `cancel()` ran. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Frees the concurrency slot. Idempotent: a second call does nothing. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#owner.release(this, this.#entry);
  }

  /**
   * Replaces the token reservation with what the request really used: a refund when it used
   * less, an extra charge when it used more. The charge keeps the request's start time, so it
   * leaves the windows when the reservation would have. Allowed after `release()`; calling it
   * again replaces the charge again (never a double refund); ignored after `cancel()`.
   * @param actual Tokens used: a number (input tokens) or `{ input, output }`.
   * @param options `{ restamp: true }` also counts the request from now (see `restamp()`);
   *   `{ spend }` replaces the spend reserved too (what the request really cost; kept otherwise).
   * @throws TypeError when `actual` is not a non-negative finite number (or such an object).
   */
  reconcile(actual: TokenCost, options?: ReconcileOptions): void {
    let cost: Cost;
    try {
      cost = resolveCost(actual, 'actual', options?.spend ?? this.#cost.spend);
    } catch (error) {
      throw new TypeError((error as Error).message);
    }
    if (this.#cancelled) return;
    if (options?.restamp === true) this.restamp();
    const before = this.#cost;
    this.#cost = cost;
    this.#owner.reconcile(this, this.#entry, cost, before, options?.estimate === true);
  }

  /**
   * Counts this request in the windows from now (or from `at`, a moment on the limiter's clock
   * between its admission and now) instead of from its admission. Call it when the response
   * headers arrive: the provider counted the request when it arrived, which is no later than that,
   * so the windows then hold as the provider sees them even when a burst admitted at once left the
   * process over tens of milliseconds. The fetch wrapper does this for you.
   * Only moves a start later, never past now; ignored after `cancel()`.
   */
  restamp(at?: number): void {
    if (this.#cancelled) return;
    this.#owner.restamp(this, this.#entry, at);
  }

  /**
   * The provider answered this request overloaded (a 503 or 529, an overloaded error, a stream
   * that failed overloaded, an attempt that timed out): with adaptive concurrency the cap shrinks
   * (once for every request admitted before the cut), and this lease's release is not counted as
   * a success. Does nothing otherwise. The fetch wrapper and `retry` call it; call it yourself
   * when you see an overload another way. Idempotent.
   */
  overloaded(): void {
    if (this.#overloaded) return;
    this.#overloaded = true;
    this.#owner.overloaded(this);
  }

  /**
   * The request was never sent: gives back its request slot and its tokens entirely, then
   * releases. Idempotent.
   */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#cost = { input: 0, output: 0 };
    this.#owner.cancel(this, this.#entry);
    this.release();
  }

  /** Releases; lets `using lease = ...` work. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Releases; lets `await using lease = ...` work. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
