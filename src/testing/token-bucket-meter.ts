import type { Meter, MeterCharge } from './meter.js';

/**
 * A bucket of `limit` units refilled continuously at `limit / windowMs` per millisecond, as
 * Anthropic replenishes its limits. Charges may drive the level below zero (a correction upwards,
 * or a rejected request that still counts); the debt is repaid by refill.
 *
 * Only admissions (fed arrival times in order) advance the refill; reports at a later "now" compute
 * the level without storing it, so a late admission is still judged at its arrival time.
 */
export class TokenBucketMeter implements Meter {
  readonly limit: number;
  readonly windowMs: number;
  #level: number;
  #at = Number.NEGATIVE_INFINITY;

  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.#level = limit;
  }

  #levelAt(now: number): number {
    if (now <= this.#at || this.#at === Number.NEGATIVE_INFINITY) return Math.min(this.limit, this.#level);
    return Math.min(this.limit, this.#level + ((now - this.#at) * this.limit) / this.windowMs);
  }

  #refill(at: number): void {
    this.#level = this.#levelAt(at);
    if (at > this.#at) this.#at = at;
  }

  waitFor(amount: number, at: number): number {
    if (amount > this.limit) return Number.POSITIVE_INFINITY;
    this.#refill(at);
    // A tiny epsilon keeps float noise in the refill from turning an exact fit into a 429.
    if (this.#level + 1e-9 >= amount) return 0;
    return ((amount - this.#level) * this.windowMs) / this.limit;
  }

  charge(amount: number, at: number): MeterCharge {
    this.#refill(at);
    this.#level -= amount;
    return { amount };
  }

  correct(charge: MeterCharge, amount: number): void {
    this.#level = Math.min(this.limit, this.#level + charge.amount - amount);
    charge.amount = amount;
  }

  used(now: number): number {
    return this.limit - this.#levelAt(now);
  }

  resetMs(now: number): number {
    const level = this.#levelAt(now);
    return level >= this.limit ? 0 : ((this.limit - level) * this.windowMs) / this.limit;
  }
}
