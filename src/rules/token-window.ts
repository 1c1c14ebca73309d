import { RingDeque } from '../internal/ring-deque.js';
import type { WindowEntry } from './request-window.js';

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
  #sum = 0;

  constructor(
    readonly dimension: TokenDimension,
    readonly limit: number,
    readonly windowMs: number,
    readonly span: number,
  ) {}

  prune(now: number): void {
    const log = this.log;
    let front = log.front();
    while (front !== undefined && front.start + this.span <= now) {
      log.shift();
      this.#sum -= amountOf(this.dimension, front.input, front.output);
      front = log.front();
    }
    // Sums of non-integer charges drift; an empty window is exactly zero.
    if (log.length === 0) this.#sum = 0;
  }

  /** The earliest time `amount` more fits, `now` if it fits already (`amount` <= limit). */
  earliest(amount: number, now: number): number {
    this.prune(now);
    const excess = this.#sum + amount - this.limit;
    if (excess <= 0) return now;
    let freed = 0;
    for (const entry of this.log) {
      freed += amountOf(this.dimension, entry.input, entry.output);
      if (freed >= excess) return entry.start + this.span;
    }
    // Only reachable if `amount` exceeds the limit, which the limiter rejects before asking.
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
    if (this.log.remove(entry)) {
      this.#sum -= amountOf(this.dimension, entry.input, entry.output);
      if (this.log.length === 0) this.#sum = 0;
    }
  }

  /** Adds a charge that started at `entry.start` (maybe in the past: usage the server reported). */
  absorb(entry: E): void {
    this.log.insertBefore(entry, (existing) => existing.start > entry.start);
    this.#sum += amountOf(this.dimension, entry.input, entry.output);
  }

  /** Tokens charged to starts later than `time`. */
  usedAfter(time: number, now: number): number {
    this.prune(now);
    let sum = 0;
    for (let i = this.log.length - 1; i >= 0; i--) {
      const entry = this.log.at(i) as E;
      if (entry.start <= time) break;
      sum += amountOf(this.dimension, entry.input, entry.output);
    }
    return sum;
  }

  used(now: number): number {
    this.prune(now);
    return this.#sum;
  }
}
