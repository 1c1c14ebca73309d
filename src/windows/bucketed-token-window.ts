import type { Cost, TokenWindowKind } from '../core/vocabulary.js';
import { ChargeWindow } from './charge-window.js';
import type { WindowEntry } from './request-window.js';

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
  spend: number;
}

/**
 * A long token window at constant cost: requests' charges are summed per slice of `span / 100`
 * of time, and a slice counts in full until its latest start leaves the window, so it never counts
 * less than the exact log (never over the limit) and holds back at most one slice (the oldest, part
 * of which has left). Admission, reconcile, cancel and the wait for room cost at most one pass
 * over 100 buckets, whatever the number of requests; memory is bounded by the buckets (an entry's
 * link to its bucket lives only as long as the entry).
 */
export class BucketedTokenWindow<E extends WindowEntry = WindowEntry> extends ChargeWindow<Bucket> {
  readonly width: number;
  readonly #of = new WeakMap<E, Bucket>();

  constructor(kind: TokenWindowKind, limit: number, windowMs: number, span: number) {
    super(kind, limit, windowMs, span);
    this.width = span / BUCKETS_PER_WINDOW;
  }

  /** Counts a charge starting at `entry.start` (the newest, as an admission's). */
  add(entry: E): void {
    this.#place(entry);
  }

  /** Counts a charge that may start earlier than the newest (a restamp, a record). */
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
    b.spend += (cost.spend ?? 0) - (entry.spend ?? 0);
    this.sum += this.charge(b) - before;
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
    b.spend = Math.max(0, b.spend - (entry.spend ?? 0));
    if (live) this.sum -= before - this.charge(b);
  }

  /** The live buckets as entries (their latest start, their charges), oldest first. */
  *summary(): IterableIterator<WindowEntry> {
    for (const b of this.liveItems()) yield { start: b.start, input: b.input, output: b.output, spend: b.spend };
  }

  #place(entry: E): void {
    const index = Math.floor(entry.start / this.width);
    const buckets = this.items;
    // The last bucket at or before the entry's slice; a restamp or a record lands near the end.
    let p = buckets.length - 1;
    while (p >= 0 && (buckets.at(p) as Bucket).index > index) p--;
    let b = buckets.at(p);
    if (b === undefined || b.index !== index) {
      b = { index, start: entry.start, input: 0, output: 0, spend: 0 };
      // No bucket after it has left the window: one that had would have started later than the entry.
      buckets.insertBefore(b, (existing) => existing.index > index);
    } else {
      if (entry.start > b.start) b.start = entry.start;
      // A bucket that had left the window (the last to) is in it again, with all it holds.
      if (p < this.live) {
        this.sum += this.charge(b);
        this.live = p;
      }
    }
    b.input += entry.input;
    b.output += entry.output;
    b.spend += entry.spend ?? 0;
    this.sum += this.charge(entry);
    this.#of.set(entry, b);
  }
}
