import { TimeRing } from '../internal/time-ring.js';
import { OthersShare } from './others-share.js';

/** What a window needs of an admitted request. */
export interface WindowEntry {
  start: number;
  input: number;
  output: number;
  /** Its price, for spend budgets. */
  spend?: number;
}

/**
 * How long a start is kept after it left its window: `usedSince` must be able to count what was
 * in the window when a provider answered, a moment before the answer reached us.
 */
export function retentionMs(span: number): number {
  return Math.min(span, 5_000);
}

/**
 * At most `limit` request starts in any interval of `span` ms: a sliding log of start times.
 * A start at `t` stops counting at exactly `t + span`, so a start then is allowed (half-open window).
 * Starts that left the window stay in the log (before `#live`) for `retentionMs` more.
 */
export class RequestWindow {
  readonly log = new TimeRing();
  /** Starts by other clients of the same quota, learned from the provider's headers. */
  readonly others = new OthersShare();
  /** Index in `log` of the oldest start still in the window. */
  #live = 0;
  readonly #retain: number;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {
    this.#retain = retentionMs(span);
  }

  prune(now: number): void {
    const log = this.log;
    const horizon = now - this.span;
    while (this.#live < log.length && log.at(this.#live) <= horizon) this.#live++;
    const forget = horizon - this.#retain;
    while (this.#live > 0 && log.front() <= forget) {
      log.shift();
      this.#live--;
    }
  }

  /** The earliest time one more start fits, `now` if it fits already. */
  earliest(now: number): number {
    this.prune(now);
    const others = this.others.at(now);
    const length = this.log.length - this.#live;
    if (length + others < this.limit) return now;
    // Either enough of our starts leave while the others' share holds (the oldest
    // `length + others - limit + 1` of them; the last decides), or the share lapses first.
    const whileShared = this.#afterLeaving(length + others - this.limit + 1);
    const afterShare = Math.max(this.others.lapsesAt(now), this.#afterLeaving(length - this.limit + 1, now));
    return Math.min(whileShared, afterShare);
  }

  /** When the oldest `count` starts in the window have left it (`fallback` when none need to). */
  #afterLeaving(count: number, fallback = Number.POSITIVE_INFINITY): number {
    if (count <= 0) return fallback;
    if (count > this.log.length - this.#live) return Number.POSITIVE_INFINITY;
    return this.log.at(this.#live + count - 1) + this.span;
  }

  add(start: number): void {
    this.log.push(start);
  }

  remove(start: number, now: number): void {
    this.prune(now);
    // Search the window first, so a start that already left is removed only when none is in it.
    const index = this.log.remove(start);
    if (index >= 0 && index < this.#live) this.#live--;
  }

  /** Adds a start at `start`, which may be earlier than the newest (a restamp to a past moment). */
  insert(start: number, now: number): void {
    this.prune(now);
    // Already outside the window: nothing to count. Otherwise it sorts after every start that left.
    if (start + this.span <= now) return;
    this.log.insertSorted(start, 1);
  }

  /** Our starts in the window (others' share not included). */
  used(now: number): number {
    this.prune(now);
    return this.log.length - this.#live;
  }

  /** The most of our starts the window held at any moment from `since` to now. */
  usedSince(since: number, now: number): number {
    this.prune(now);
    let count = this.log.length - this.#live;
    for (let i = this.#live - 1; i >= 0 && this.log.at(i) + this.span > since; i--) count++;
    return count;
  }

  /** Starts still in the window, oldest first. */
  *starts(): IterableIterator<number> {
    for (let i = this.#live; i < this.log.length; i++) yield this.log.at(i);
  }
}
