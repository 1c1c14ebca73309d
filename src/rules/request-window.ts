import { TimeRing } from '../internal/time-ring.js';

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
    const length = this.log.length;
    if (length < this.limit) return now;
    // The oldest `length - limit + 1` starts must leave the window; the last of them decides.
    return this.log.at(length - this.limit) + this.span;
  }

  add(start: number): void {
    this.log.push(start);
  }

  remove(start: number, now: number): void {
    this.prune(now);
    this.log.remove(start);
  }

  /** Adds `count` starts at `start` (which may be in the past: usage the server reported). */
  absorb(start: number, count: number): void {
    this.log.insertSorted(start, count);
  }

  /** Starts in the window later than `time`. */
  usedAfter(time: number, now: number): number {
    this.prune(now);
    return this.log.countAfter(time);
  }

  used(now: number): number {
    this.prune(now);
    return this.log.length;
  }
}
