import type { Meter, MeterCharge } from './meter.js';

interface Entry extends MeterCharge {
  readonly at: number;
  /** Set once the entry has left the window for admissions; it no longer counts in the sum. */
  gone: boolean;
}

/**
 * At most `limit` units in any half-open interval `[t, t + windowMs)`: a log of charges by arrival
 * time. An entry made at `t` stops counting at exactly `t + windowMs`.
 *
 * Only admissions (`waitFor`, `charge`, fed arrival times in order) drop old entries. Reports at a
 * later "now" (`used`, `resetMs`) scan without dropping, so a request that arrived earlier but is
 * admitted later (its body or token count took a while) is still judged at its arrival time.
 */
export class SlidingLogMeter implements Meter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #log: Entry[] = [];
  #head = 0;
  #sum = 0;

  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  #prune(at: number): void {
    const log = this.#log;
    while (this.#head < log.length && (log[this.#head] as Entry).at <= at - this.windowMs) {
      const entry = log[this.#head] as Entry;
      this.#sum -= entry.amount;
      entry.gone = true;
      this.#head++;
    }
    // Compact now and then so a long-running server does not grow without bound.
    if (this.#head > 1_024 && this.#head * 2 > log.length) {
      log.splice(0, this.#head);
      this.#head = 0;
    }
  }

  waitFor(amount: number, at: number): number {
    if (amount > this.limit) return Number.POSITIVE_INFINITY;
    this.#prune(at);
    let sum = this.#sum;
    if (sum + amount <= this.limit) return 0;
    // Oldest first: the wait ends when enough old entries have left the window.
    for (let i = this.#head; i < this.#log.length; i++) {
      const entry = this.#log[i] as Entry;
      sum -= entry.amount;
      if (sum + amount <= this.limit) return Math.max(0, entry.at + this.windowMs - at);
    }
    return Math.max(0, (this.#log.at(-1)?.at ?? at) + this.windowMs - at);
  }

  charge(amount: number, at: number): MeterCharge {
    this.#prune(at);
    const entry: Entry = { at, amount, gone: false };
    this.#log.push(entry);
    this.#sum += amount;
    return entry;
  }

  correct(charge: MeterCharge, amount: number): void {
    const entry = charge as Entry;
    if (!entry.gone) this.#sum += amount - entry.amount;
    entry.amount = amount;
  }

  used(now: number): number {
    let sum = 0;
    for (let i = this.#head; i < this.#log.length; i++) {
      const entry = this.#log[i] as Entry;
      if (entry.at > now - this.windowMs) sum += entry.amount;
    }
    return sum;
  }

  resetMs(now: number): number {
    for (let i = this.#log.length - 1; i >= this.#head; i--) {
      const entry = this.#log[i] as Entry;
      if (entry.amount > 0) return Math.max(0, entry.at + this.windowMs - now);
    }
    return 0;
  }
}
