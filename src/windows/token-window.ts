import { type Cost, type TokenWindowKind, WINDOW_KIND_TABLE } from '../core/vocabulary.js';
import { RingDeque } from '../internal/ring-deque.js';
import { OthersShare } from './others-share.js';
import { retentionMs, type WindowEntry } from './request-window.js';

/**
 * At most `limit` tokens charged to requests that started in any interval of `span` ms. Each
 * request's charge stays in the window from its start for `span`, whatever it was reconciled to.
 */
export class TokenWindow<E extends WindowEntry = WindowEntry> {
  readonly log = new RingDeque<E>();
  /** Tokens used by other clients of the same quota, learned from the provider's headers. */
  readonly others = new OthersShare();
  /** Sum of the charges in the window (from `#live` on). */
  #sum = 0;
  /** Index in `log` of the oldest charge still in the window; those before it are kept a while. */
  #live = 0;
  readonly #retain: number;
  /** The part of a cost this window charges (see `WINDOW_KIND_TABLE`). */
  readonly charge: (cost: Cost) => number;

  constructor(
    readonly kind: TokenWindowKind,
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {
    this.#retain = retentionMs(span);
    this.charge = WINDOW_KIND_TABLE[kind].charge;
  }

  prune(now: number): void {
    const log = this.log;
    const horizon = now - this.span;
    for (let entry = log.at(this.#live); entry !== undefined && entry.start <= horizon; entry = log.at(this.#live)) {
      this.#sum -= this.charge(entry);
      this.#live++;
    }
    // Sums of non-integer charges drift; an empty window is exactly zero.
    if (this.#live === log.length) this.#sum = 0;
    const forget = horizon - this.#retain;
    for (let front = log.front(); this.#live > 0 && front !== undefined && front.start <= forget; front = log.front()) {
      log.shift();
      this.#live--;
    }
  }

  /** The earliest time `amount` more fits, `now` if it fits already (`amount` <= limit). */
  earliest(amount: number, now: number): number {
    this.prune(now);
    const others = this.others.at(now);
    const excess = this.#sum + others + amount - this.limit;
    if (excess <= 0) return now;
    // Either enough of our charges leave while the others' share holds, or the share lapses first.
    const whileShared = this.#afterFreeing(excess);
    const afterShare =
      others === 0 ? whileShared : Math.max(this.others.lapsesAt(now), this.#afterFreeing(excess - others, now));
    return Math.min(whileShared, afterShare);
  }

  /** When the oldest charges add up to `excess` and have left (`fallback` when nothing need leave). */
  #afterFreeing(excess: number, fallback = Number.POSITIVE_INFINITY): number {
    if (excess <= 0) return fallback;
    let freed = 0;
    for (let i = this.#live; i < this.log.length; i++) {
      const entry = this.log.at(i) as E;
      freed += this.charge(entry);
      if (freed >= excess) return entry.start + this.span;
    }
    // Only reachable if the cost exceeds the limit, which the limiter rejects before asking.
    return Number.POSITIVE_INFINITY;
  }

  add(entry: E): void {
    this.log.push(entry);
    this.#sum += this.charge(entry);
  }

  /** Applies a new charge to an entry still in the window (call before updating the entry). */
  recharge(entry: E, cost: Cost, now: number): void {
    this.prune(now);
    if (entry.start + this.span <= now) return;
    this.#sum += this.charge(cost) - this.charge(entry);
  }

  remove(entry: E, now: number): void {
    this.prune(now);
    const index = this.log.remove(entry);
    if (index < 0) return;
    if (index < this.#live) {
      this.#live--;
      return;
    }
    this.#sum -= this.charge(entry);
    if (this.#live === this.log.length) this.#sum = 0;
  }

  /** Adds a charge that starts at `entry.start`, which may be earlier than the newest (a restamp). */
  insert(entry: E, now: number): void {
    this.prune(now);
    // Already outside the window: nothing to count. Otherwise it sorts after every charge that left.
    if (entry.start + this.span <= now) return;
    this.log.insertBefore(entry, (existing) => existing.start > entry.start);
    this.#sum += this.charge(entry);
  }

  /** Our charges in the window (others' share not included). */
  used(now: number): number {
    this.prune(now);
    return this.#sum;
  }

  /** The most of our charges the window held at any moment from `since` to now. */
  usedSince(since: number, now: number): number {
    this.prune(now);
    let sum = this.#sum;
    for (let i = this.#live - 1; i >= 0; i--) {
      const entry = this.log.at(i) as E;
      if (entry.start + this.span <= since) break;
      sum += this.charge(entry);
    }
    return sum;
  }

  /** Entries still in the window, oldest first. */
  *entries(): IterableIterator<E> {
    for (let i = this.#live; i < this.log.length; i++) yield this.log.at(i) as E;
  }
}
