import { RingDeque } from '../internal/ring-deque.js';
import { OthersShare } from './others-share.js';
import { retentionMs, type WindowEntry } from './request-window.js';

/** Which part of a cost a token window charges. */
export type TokenDimension = 'tokens' | 'inputTokens' | 'outputTokens';

/** The amount of `entry` a dimension charges. */
export function amountOf(dimension: TokenDimension, input: number, output: number): number {
  return dimension === 'tokens' ? input + output : dimension === 'inputTokens' ? input : output;
}

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

  constructor(
    readonly dimension: TokenDimension,
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {
    this.#retain = retentionMs(span);
  }

  prune(now: number): void {
    const log = this.log;
    const horizon = now - this.span;
    for (let entry = log.at(this.#live); entry !== undefined && entry.start <= horizon; entry = log.at(this.#live)) {
      this.#sum -= amountOf(this.dimension, entry.input, entry.output);
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
      others === 0 ? whileShared : Math.max(this.others.until, this.#afterFreeing(excess - others, now));
    return Math.min(whileShared, afterShare);
  }

  /** When the oldest charges add up to `excess` and have left (`fallback` when nothing need leave). */
  #afterFreeing(excess: number, fallback = Number.POSITIVE_INFINITY): number {
    if (excess <= 0) return fallback;
    let freed = 0;
    for (let i = this.#live; i < this.log.length; i++) {
      const entry = this.log.at(i) as E;
      freed += amountOf(this.dimension, entry.input, entry.output);
      if (freed >= excess) return entry.start + this.span;
    }
    // Only reachable if the cost exceeds the limit, which the limiter rejects before asking.
    return Number.POSITIVE_INFINITY;
  }

  add(entry: E): void {
    this.log.push(entry);
    this.#sum += amountOf(this.dimension, entry.input, entry.output);
  }

  /** Applies a new charge to an entry still in the window (call before updating the entry). */
  recharge(entry: E, input: number, output: number, now: number): void {
    this.prune(now);
    if (entry.start + this.span <= now) return;
    this.#sum += amountOf(this.dimension, input, output) - amountOf(this.dimension, entry.input, entry.output);
  }

  remove(entry: E, now: number): void {
    this.prune(now);
    const index = this.log.remove(entry);
    if (index < 0) return;
    if (index < this.#live) {
      this.#live--;
      return;
    }
    this.#sum -= amountOf(this.dimension, entry.input, entry.output);
    if (this.#live === this.log.length) this.#sum = 0;
  }

  /** Adds a charge that starts at `entry.start`, which may be earlier than the newest (a restamp). */
  insert(entry: E, now: number): void {
    this.prune(now);
    // Already outside the window: nothing to count. Otherwise it sorts after every charge that left.
    if (entry.start + this.span <= now) return;
    this.log.insertBefore(entry, (existing) => existing.start > entry.start);
    this.#sum += amountOf(this.dimension, entry.input, entry.output);
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
      sum += amountOf(this.dimension, entry.input, entry.output);
    }
    return sum;
  }

  /** Entries still in the window, oldest first. */
  *entries(): IterableIterator<E> {
    for (let i = this.#live; i < this.log.length; i++) yield this.log.at(i) as E;
  }
}
