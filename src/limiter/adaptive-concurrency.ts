import type { ConcurrencyChangedEvent } from '../core/events.js';
import { describeValue } from '../internal/describe.js';
import { knownKeys, plainObject, positiveInteger } from '../internal/validate.js';

/** The adaptive bounds, checked. */
export interface ResolvedAdaptive {
  readonly max: number;
  readonly min: number;
  readonly initial: number;
}

/** Reads `concurrency: { adaptive: true, ... }`, throwing at once, naming the field, on anything else. */
export function resolveAdaptive(value: object): ResolvedAdaptive {
  const o = plainObject('concurrency', value);
  knownKeys('`concurrency`', o, ['adaptive', 'max', 'min', 'initial']);
  if (o.adaptive !== true) {
    throw new TypeError(`Expected \`concurrency.adaptive\` to be true, got ${describeValue(o.adaptive)}`);
  }
  const max = positiveInteger('concurrency.max', o.max);
  const min = o.min === undefined ? 1 : positiveInteger('concurrency.min', o.min);
  if (min > max) {
    throw new RangeError(`Expected \`concurrency.min\` (${min}) to be at most \`concurrency.max\` (${max})`);
  }
  const initial = o.initial === undefined ? min : positiveInteger('concurrency.initial', o.initial);
  if (initial < min || initial > max) {
    throw new RangeError(`Expected \`concurrency.initial\` to be between min ${min} and max ${max}, got ${initial}`);
  }
  return { max, min, initial };
}

/** What one overload signal leaves of the cap (gemini_ex and TCP Reno cut by a quarter to a half). */
const DECREASE = 0.75;
/** Growth per success at the cap after the first overload: a whole slot per two rounds of the cap. */
const INCREASE = 0.5;

/**
 * Additive increase, multiplicative decrease, as TCP finds a path's capacity:
 * - until the first overload, every success at the cap adds half a slot (the cap grows by half
 *   every round trip: a quick start from `initial`);
 * - after it, a success adds `0.5 / cap` (one slot every two round trips), so the cap spends long
 *   just under where the server starts refusing, and meets it again seldom;
 * - an overload signal cuts the cap by a quarter, once per congestion: a request admitted before
 *   the last cut says nothing new about the cut cap, so a burst of refusals cuts once.
 * A success only grows the cap when the cap was reached (callers waited or every slot was held):
 * a cap never tried is not known to work.
 */
export class AdaptiveCap {
  #bounds: ResolvedAdaptive;
  #cap: number;
  #quickStart = true;
  #lastCutAt = Number.NEGATIVE_INFINITY;
  /** Leases that reported an overload: their release is not a success. */
  readonly #overloaded = new WeakSet<object>();

  constructor(
    bounds: ResolvedAdaptive,
    readonly changed: (event: ConcurrencyChangedEvent) => void,
  ) {
    this.#bounds = bounds;
    this.#cap = bounds.initial;
  }

  /** The cap in force. */
  get limit(): number {
    return Math.floor(this.#cap);
  }

  /** New bounds (`updateLimits`): the cap kept within them. */
  rebound(bounds: ResolvedAdaptive): void {
    this.#bounds = bounds;
    this.#set(Math.min(bounds.max, Math.max(bounds.min, this.#cap)), 'limits');
  }

  /** An overload answer to a request admitted at `admittedAt` (its lease, when known). */
  overloaded(lease: object | undefined, admittedAt: number, now: number): void {
    if (lease !== undefined) this.#overloaded.add(lease);
    if (admittedAt < this.#lastCutAt) return;
    this.#lastCutAt = now;
    this.#quickStart = false;
    this.#set(Math.max(this.#bounds.min, this.#cap * DECREASE), 'overloaded');
  }

  /** A lease was released; `demand` is the leases held (this one included) plus callers waiting. */
  released(lease: object, cancelled: boolean, demand: number): void {
    if (cancelled || this.#overloaded.has(lease) || demand < this.limit) return;
    const step = this.#quickStart ? INCREASE : INCREASE / this.#cap;
    this.#set(Math.min(this.#bounds.max, this.#cap + step), 'succeeded');
  }

  #set(cap: number, reason: ConcurrencyChangedEvent['reason']): void {
    const previous = this.limit;
    this.#cap = cap;
    if (this.limit !== previous) this.changed({ concurrency: this.limit, previous, reason });
  }
}
