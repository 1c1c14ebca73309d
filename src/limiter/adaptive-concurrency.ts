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

/**
 * What one overload signal leaves of the cap (TCP Reno halves, CUBIC keeps 0.7, gemini_ex 0.75):
 * a server's capacity does not move like a network path's, so less is cut.
 */
const DECREASE = 0.8;
/** Growth per success at the cap near the last overload: a slot per four rounds of the cap. */
const PROBE = 0.25;
/** Growth per success at the cap far below it: a slot each (the cap doubles every round trip). */
const QUICK = 1;

/**
 * Additive increase, multiplicative decrease, as TCP finds a path's capacity, and like CUBIC
 * quick to regain what worked:
 * - until the first overload, every success at the cap adds a slot (the cap doubles every round
 *   trip: a quick start from `initial`, as TCP's slow start);
 * - an overload signal cuts the cap by a fifth, once per congestion: a request admitted before
 *   the last cut says nothing new about the cut cap, so a burst of refusals cuts once. The cap it
 *   cut from is remembered as where the server refused;
 * - after a cut, a success adds a slot again up to one below where the server refused (that many
 *   worked), then `0.25 / cap` (a slot every four round trips): the cap spends long just under
 *   where the server starts refusing, and meets it again seldom.
 * A success only grows the cap when the cap was reached (callers waited or every slot was held):
 * a cap never tried is not known to work.
 */
export class AdaptiveCap {
  #bounds: ResolvedAdaptive;
  #cap: number;
  /** The cap the last overload cut (Infinity before the first): below it less one, growth is quick. */
  #refusedAt = Number.POSITIVE_INFINITY;
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
    this.#refusedAt = this.#cap;
    this.#set(Math.max(this.#bounds.min, this.#cap * DECREASE), 'overloaded');
  }

  /** A lease was released; `demand` is the leases held (this one included) plus callers waiting. */
  released(lease: object, cancelled: boolean, demand: number): void {
    if (cancelled || this.#overloaded.has(lease) || demand < this.limit) return;
    const quickUpTo = this.#refusedAt - 1;
    const cap = this.#cap < quickUpTo ? Math.min(quickUpTo, this.#cap + QUICK) : this.#cap + PROBE / this.#cap;
    this.#set(Math.min(this.#bounds.max, cap), 'succeeded');
  }

  #set(cap: number, reason: ConcurrencyChangedEvent['reason']): void {
    const previous = this.limit;
    this.#cap = cap;
    if (this.limit !== previous) this.changed({ concurrency: this.limit, previous, reason });
  }
}
