import { TimeRing } from '../internal/time-ring.js';
import { ExternalShare } from './external-share.js';

/** What a window needs of an admitted request. */
export interface WindowEntry {
  start: number;
  input: number;
  output: number;
}

/**
 * At most `limit` request starts in any interval of `span` ms: a sliding log of start times.
 * A start at `t` stops counting at exactly `t + span`, so a start then is allowed (half-open window).
 */
export class RequestWindow {
  readonly log = new TimeRing();
  /** Starts by other clients of the same quota, learned from the provider's headers. */
  readonly external = new ExternalShare();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {}

  prune(now: number): void {
    const log = this.log;
    const horizon = now - this.span;
    while (log.length !== 0 && log.front() <= horizon) log.shift();
  }

  /** The earliest time one more start fits, `now` if it fits already. */
  earliest(now: number): number {
    this.prune(now);
    const others = this.external.at(now);
    const length = this.log.length;
    if (length + others < this.limit) return now;
    // Either enough of our starts leave while the others' share holds (the oldest
    // `length + others - limit + 1` of them; the last decides), or the share lapses first.
    const whileShared = this.#afterLeaving(length + others - this.limit + 1);
    const afterShare = Math.max(this.external.until, this.#afterLeaving(length - this.limit + 1, now));
    return Math.min(whileShared, afterShare);
  }

  /** When the oldest `count` starts have left the window (`fallback` when none need to). */
  #afterLeaving(count: number, fallback = Number.POSITIVE_INFINITY): number {
    if (count <= 0) return fallback;
    if (count > this.log.length) return Number.POSITIVE_INFINITY;
    return this.log.at(count - 1) + this.span;
  }

  add(start: number): void {
    this.log.push(start);
  }

  remove(start: number, now: number): void {
    this.prune(now);
    this.log.remove(start);
  }

  /** Adds a start at `start`, which may be earlier than the newest (a restamp to a past moment). */
  insert(start: number): void {
    this.log.insertSorted(start, 1);
  }

  /** Our starts in the window (others' share not included). */
  used(now: number): number {
    this.prune(now);
    return this.log.length;
  }
}
