import { RingDeque } from '../internal/ring-deque.js';

/** What a window needs of an admitted request. */
export interface WindowEntry {
  readonly start: number;
  input: number;
  output: number;
}

/**
 * At most `limit` request starts in any interval of `span` ms: a sliding log of start times.
 * A start at `t` stops counting at exactly `t + span`, so a start then is allowed (half-open window).
 */
export class RequestWindow<E extends WindowEntry = WindowEntry> {
  readonly log = new RingDeque<E>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {}

  prune(now: number): void {
    const log = this.log;
    let front = log.front();
    while (front !== undefined && front.start + this.span <= now) {
      log.shift();
      front = log.front();
    }
  }

  /** The earliest time one more start fits, `now` if it fits already. */
  earliest(now: number): number {
    this.prune(now);
    const length = this.log.length;
    if (length < this.limit) return now;
    // The oldest `length - limit + 1` starts must leave the window; the last of them decides.
    return (this.log.at(length - this.limit) as E).start + this.span;
  }

  add(entry: E): void {
    this.log.push(entry);
  }

  remove(entry: E, now: number): void {
    this.prune(now);
    this.log.remove(entry);
  }

  used(now: number): number {
    this.prune(now);
    return this.log.length;
  }
}
