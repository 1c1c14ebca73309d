import { type Cost, type TokenWindowKind, WINDOW_KIND_TABLE } from '../core/vocabulary.js';
import { RingDeque } from '../internal/ring-deque.js';
import { OthersShare } from './others-share.js';
import { retentionMs, type WindowEntry } from './request-window.js';

/**
 * What both token windows share: charges in start order (entries, or buckets of them), each in
 * the window from its start for `span`; their sum, others' share beside it, and when room comes.
 * Charges that left are kept `retentionMs` more, for `usedSince`.
 */
export abstract class ChargeWindow<T extends WindowEntry> {
  /** Tokens used by other clients of the same quota, learned from the provider's headers. */
  readonly others = new OthersShare();
  /** The part of a cost this window charges (see `WINDOW_KIND_TABLE`). */
  readonly charge: (cost: Cost) => number;
  protected readonly items = new RingDeque<T>();
  /** Index in `items` of the oldest charge still in the window. */
  protected live = 0;
  /** Sum of the charges in the window (from `live` on). */
  protected sum = 0;
  readonly #retain: number;

  constructor(
    readonly kind: TokenWindowKind,
    /** Changes only when new limits keep the window's shape (see `MemoryStore.configure`). */
    public limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {
    this.#retain = retentionMs(span);
    this.charge = WINDOW_KIND_TABLE[kind].charge;
  }

  prune(now: number): void {
    const items = this.items;
    const horizon = now - this.span;
    for (let item = items.at(this.live); item !== undefined && item.start <= horizon; item = items.at(this.live)) {
      this.sum -= this.charge(item);
      this.live++;
    }
    // Sums of non-integer charges drift; an empty window is exactly zero.
    if (this.live === items.length) this.sum = 0;
    const forget = horizon - this.#retain;
    for (let front = items.front(); this.live > 0 && front !== undefined && front.start <= forget; ) {
      items.shift();
      this.live--;
      front = items.front();
    }
  }

  /** The earliest time `amount` more fits, `now` if it fits already (`amount` <= limit). */
  earliest(amount: number, now: number): number {
    this.prune(now);
    const others = this.others.at(now);
    const excess = this.sum + others + amount - this.limit;
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
    for (let i = this.live; i < this.items.length; i++) {
      const item = this.items.at(i) as T;
      freed += this.charge(item);
      if (freed >= excess) return item.start + this.span;
    }
    // Only reachable if the cost exceeds the limit, which the limiter rejects before asking.
    return Number.POSITIVE_INFINITY;
  }

  /** Our charges in the window (others' share not included). */
  used(now: number): number {
    this.prune(now);
    return this.sum;
  }

  /** The most of our charges the window held at any moment from `since` to now. */
  usedSince(since: number, now: number): number {
    this.prune(now);
    let sum = this.sum;
    for (let i = this.live - 1; i >= 0; i--) {
      const item = this.items.at(i) as T;
      if (item.start + this.span <= since) break;
      sum += this.charge(item);
    }
    return sum;
  }

  /** The charges still in the window, oldest first. */
  protected *liveItems(): IterableIterator<T> {
    for (let i = this.live; i < this.items.length; i++) yield this.items.at(i) as T;
  }
}
