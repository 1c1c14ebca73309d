import { type Cost, type TokenWindowKind, WINDOW_KIND_TABLE } from '../core/vocabulary.js';
import { RingDeque } from '../internal/ring-deque.js';
import { OthersShare } from './others-share.js';
import { retentionMs, type WindowEntry } from './request-window.js';

/** Token windows at least this long are kept in buckets (an hour, a day, a month). */
export const BUCKETED_FROM_MS = 3_600_000;

/** Buckets per window: what a bucketed window holds back beyond an exact one is one bucket's worth. */
export const BUCKETS_PER_WINDOW = 100;

/** The charges of the requests that started in one slice of time. */
interface Bucket {
  /** Which slice: `floor(start / width)`. */
  readonly index: number;
  /** The latest start among them: the bucket counts in full until it leaves. */
  start: number;
  input: number;
  output: number;
}

/**
 * A long token window at constant cost: requests' charges are summed per slice of `span / 100`
 * of time, and a slice counts in full until its latest start leaves the window, so it never counts
 * less than the exact log (never over the limit) and holds back at most one slice (the oldest, part
 * of which has left). Admission, reconcile, cancel and the wait for room cost at most one pass
 * over 100 buckets, whatever the number of requests; memory is bounded by the buckets (an entry's
 * link to its bucket lives only as long as the entry).
 */
export class BucketedTokenWindow<E extends WindowEntry = WindowEntry> {
  /** Tokens used by other clients of the same quota, learned from the provider's headers. */
  readonly others = new OthersShare();
  readonly charge: (cost: Cost) => number;
  readonly width: number;
  /** Oldest first; those before `#live` have left the window and are kept `retentionMs` more. */
  readonly #buckets = new RingDeque<Bucket>();
  #live = 0;
  /** Sum of the charges of the live buckets. */
  #sum = 0;
  readonly #of = new WeakMap<E, Bucket>();
  readonly #retain: number;

  constructor(
    readonly kind: TokenWindowKind,
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {
    this.#retain = retentionMs(span);
    this.charge = WINDOW_KIND_TABLE[kind].charge;
    this.width = span / BUCKETS_PER_WINDOW;
  }

  prune(now: number): void {
    const buckets = this.#buckets;
    const horizon = now - this.span;
    for (let b = buckets.at(this.#live); b !== undefined && b.start <= horizon; b = buckets.at(this.#live)) {
      this.#sum -= this.charge(b);
      this.#live++;
    }
    // Sums of non-integer charges drift; an empty window is exactly zero.
    if (this.#live === buckets.length) this.#sum = 0;
    const forget = horizon - this.#retain;
    for (let front = buckets.front(); this.#live > 0 && front !== undefined && front.start <= forget; ) {
      buckets.shift();
      this.#live--;
      front = buckets.front();
    }
  }

  /** The earliest time `amount` more fits, `now` if it fits already (`amount` <= limit). */
  earliest(amount: number, now: number): number {
    this.prune(now);
    const others = this.others.at(now);
    const excess = this.#sum + others + amount - this.limit;
    if (excess <= 0) return now;
    const whileShared = this.#afterFreeing(excess);
    const afterShare =
      others === 0 ? whileShared : Math.max(this.others.lapsesAt(now), this.#afterFreeing(excess - others, now));
    return Math.min(whileShared, afterShare);
  }

  #afterFreeing(excess: number, fallback = Number.POSITIVE_INFINITY): number {
    if (excess <= 0) return fallback;
    let freed = 0;
    for (let i = this.#live; i < this.#buckets.length; i++) {
      const b = this.#buckets.at(i) as Bucket;
      freed += this.charge(b);
      if (freed >= excess) return b.start + this.span;
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Counts a charge starting at `entry.start` (at the newest end, or earlier: a restamp, a record). */
  add(entry: E): void {
    this.#place(entry);
  }

  insert(entry: E, now: number): void {
    this.prune(now);
    if (entry.start + this.span <= now) return;
    this.#place(entry);
  }

  /** Applies a new charge to an entry still in the window (call before updating the entry). */
  recharge(entry: E, cost: Cost, now: number): void {
    this.prune(now);
    const b = this.#of.get(entry);
    if (b === undefined || b.start + this.span <= now) return;
    const before = this.charge(b);
    b.input += cost.input - entry.input;
    b.output += cost.output - entry.output;
    this.#sum += this.charge(b) - before;
  }

  /** Takes the entry's charge out; its bucket still counts until its latest start leaves. */
  remove(entry: E, now: number): void {
    this.prune(now);
    const b = this.#of.get(entry);
    if (b === undefined) return;
    this.#of.delete(entry);
    const live = b.start + this.span > now;
    const before = this.charge(b);
    b.input = Math.max(0, b.input - entry.input);
    b.output = Math.max(0, b.output - entry.output);
    if (live) this.#sum -= before - this.charge(b);
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
      const b = this.#buckets.at(i) as Bucket;
      if (b.start + this.span <= since) break;
      sum += this.charge(b);
    }
    return sum;
  }

  /** The live buckets as entries (their latest start, their charges), oldest first. */
  *summary(): IterableIterator<WindowEntry> {
    for (let i = this.#live; i < this.#buckets.length; i++) {
      const b = this.#buckets.at(i) as Bucket;
      yield { start: b.start, input: b.input, output: b.output };
    }
  }

  #place(entry: E): void {
    const index = Math.floor(entry.start / this.width);
    const buckets = this.#buckets;
    // The last bucket at or before the entry's slice; a restamp or a record lands near the end.
    let p = buckets.length - 1;
    while (p >= 0 && (buckets.at(p) as Bucket).index > index) p--;
    let b = buckets.at(p);
    if (b === undefined || b.index !== index) {
      b = { index, start: entry.start, input: 0, output: 0 };
      // No bucket after it has left the window: one that had would have started later than the entry.
      buckets.insertBefore(b, (existing) => existing.index > index);
    } else {
      if (entry.start > b.start) b.start = entry.start;
      // A bucket that had left the window (the last to) is in it again, with all it holds.
      if (p < this.#live) {
        this.#sum += this.charge(b);
        this.#live = p;
      }
    }
    b.input += entry.input;
    b.output += entry.output;
    this.#sum += this.charge(entry);
    this.#of.set(entry, b);
  }
}
