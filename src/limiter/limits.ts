import { CapacityError } from '../core/errors.js';
import {
  type Cost,
  type LimitOptions,
  perWindowKind,
  type ResolvedLimits,
  type ResolvedWindow,
  type TokenCost,
  WINDOW_KIND_TABLE,
  WINDOW_KINDS,
  type WindowKind,
  type WindowLimit,
} from '../core/vocabulary.js';
import { type ResolvedAdaptive, resolveAdaptive } from './adaptive-concurrency.js';
import {
  knownKeys,
  nonNegativeInteger,
  nonNegativeNumber,
  plainObject,
  positiveInteger,
  positiveNumber,
} from '../internal/validate.js';

/** The scalar limits, each with its check and its default. */
const SCALARS = {
  concurrency: { check: positiveInteger, fallback: Number.POSITIVE_INFINITY },
  maxQueue: { check: nonNegativeInteger, fallback: Number.POSITIVE_INFINITY },
  marginMs: { check: nonNegativeNumber, fallback: 0 },
} as const;

type ScalarKey = keyof typeof SCALARS;

/** The keys `updateLimits` accepts. */
export const LIMIT_KEYS: readonly (keyof LimitOptions)[] = [...WINDOW_KINDS, ...(Object.keys(SCALARS) as ScalarKey[])];

/**
 * Limits after validation, with `maxQueue` (which the scheduler, not the store, enforces) and the
 * adaptive concurrency bounds (the limiter moves its cap within them; `concurrency` is their `max`).
 */
export interface ResolvedOptions extends ResolvedLimits {
  readonly maxQueue: number;
  readonly adaptive: ResolvedAdaptive | undefined;
}

const ZERO_COST: Cost = Object.freeze({ input: 0, output: 0 });

function windows(kind: WindowKind, value: unknown): ResolvedWindow[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) {
    throw new RangeError(`Expected \`${kind}\` to hold at least one window, got an empty array`);
  }
  return list.map((item, i) => {
    const name = Array.isArray(value) ? `${kind}[${i}]` : kind;
    const w = plainObject(name, item);
    knownKeys(`\`${name}\``, w, ['limit', 'windowMs']);
    // A request count must be whole; a token budget may be any positive amount.
    const check = WINDOW_KIND_TABLE[kind].whole ? positiveInteger : positiveNumber;
    return { limit: check(`${name}.limit`, w.limit), windowMs: positiveNumber(`${name}.windowMs`, w.windowMs) };
  });
}

/**
 * Validates limit options and merges them over `base`: a key that is present replaces the old
 * value (present but `undefined` removes that limit), an absent key keeps it.
 */
export function resolveLimits(options: LimitOptions, base?: ResolvedOptions): ResolvedOptions {
  const has = (key: keyof LimitOptions): boolean => Object.hasOwn(options, key);
  const scalar = (key: ScalarKey): number => {
    const value = options[key];
    // Present and defined: validated; present as undefined (or no base): the default; absent: kept.
    if (value !== undefined) return SCALARS[key].check(key, value);
    return has(key) || base === undefined ? SCALARS[key].fallback : base[key];
  };
  const given = options.concurrency;
  const adaptive =
    typeof given === 'object' && given !== null
      ? resolveAdaptive(given)
      : has('concurrency') || base === undefined
        ? undefined
        : base.adaptive;
  return {
    ...perWindowKind((kind) => (has(kind) || base === undefined ? windows(kind, options[kind]) : [...base[kind]])),
    concurrency: adaptive === undefined ? scalar('concurrency') : adaptive.max,
    adaptive,
    maxQueue: scalar('maxQueue'),
    marginMs: scalar('marginMs'),
  };
}

/** Validates a token cost (a number counts as input tokens), and a spend when given. */
export function resolveCost(tokens: TokenCost | undefined, name = 'tokens', spend?: number): Cost {
  const cost = tokenCost(tokens, name);
  return spend === undefined
    ? cost
    : { input: cost.input, output: cost.output, spend: nonNegativeNumber('spend', spend) };
}

function tokenCost(tokens: TokenCost | undefined, name: string): Cost {
  if (tokens === undefined) return ZERO_COST;
  if (typeof tokens === 'number') return { input: nonNegativeNumber(name, tokens), output: 0 };
  const t = plainObject(name, tokens);
  // `cachedInput` (a response's cache reads, `usageFromResponse`) is for pricing: no window counts it.
  knownKeys(`\`${name}\``, t, ['input', 'output', 'cachedInput']);
  if (t.cachedInput !== undefined) nonNegativeNumber(`${name}.cachedInput`, t.cachedInput);
  return {
    input: t.input === undefined ? 0 : nonNegativeNumber(`${name}.input`, t.input),
    output: t.output === undefined ? 0 : nonNegativeNumber(`${name}.output`, t.output),
  };
}

/** Turns resolved windows back into the public option shape (for events and stats). */
export function toLimitOptions(limits: ResolvedOptions): LimitOptions {
  const list = (ws: readonly ResolvedWindow[]): WindowLimit[] | undefined =>
    ws.length === 0 ? undefined : ws.map((w) => ({ limit: w.limit, windowMs: w.windowMs }));
  return {
    ...perWindowKind((kind) => list(limits[kind])),
    concurrency:
      limits.adaptive !== undefined
        ? { adaptive: true, ...limits.adaptive }
        : Number.isFinite(limits.concurrency)
          ? limits.concurrency
          : undefined,
    maxQueue: Number.isFinite(limits.maxQueue) ? limits.maxQueue : undefined,
    marginMs: limits.marginMs,
  };
}

/**
 * The limits in force: what the user set (never replaced by what a provider announces, only
 * tightened), what was adopted from the provider, and the capacity check (a cost larger than a whole window can never start).
 */
export class Limits {
  #resolved: ResolvedOptions;
  /** Window kinds the user set: announced limits never replace these. */
  readonly #userSet = new Set<WindowKind>();
  /** The smallest limit of each token kind, for the capacity check. */
  #smallest: { readonly kind: WindowKind; readonly limit: number; charge(cost: Cost): number }[] = [];

  constructor(options: LimitOptions) {
    this.#resolved = resolveLimits(options);
    this.#markUserSet(options);
    this.#measure();
  }

  /** The validated limits. */
  get resolved(): ResolvedOptions {
    return this.#resolved;
  }

  /** The limits in the shape `new Limiter()` and `updateLimits()` take. */
  toOptions(): LimitOptions {
    return toLimitOptions(this.#resolved);
  }

  /** Whether the user set limits of this kind (announced limits then never replace them). */
  userSet(kind: WindowKind): boolean {
    return this.#userSet.has(kind);
  }

  /** `updateLimits(partial)`: validates, merges, and remembers which kinds the user set. */
  update(partial: LimitOptions): void {
    this.#resolved = resolveLimits(partial, this.#resolved);
    this.#markUserSet(partial);
    this.#measure();
  }

  /** Adopts limits a provider announced (kinds the user did not set). */
  adopt(announced: Partial<Record<WindowKind, WindowLimit>>): void {
    this.#resolved = resolveLimits(announced, this.#resolved);
    this.#measure();
  }

  /** The error for a cost that can never fit a budget (larger than a whole window), else undefined. */
  capacityError(cost: Cost): CapacityError | undefined {
    for (const check of this.#smallest) {
      const amount = check.charge(cost);
      if (amount > check.limit) return new CapacityError(check.kind, amount, check.limit);
    }
    return undefined;
  }

  #markUserSet(options: LimitOptions): void {
    for (const kind of WINDOW_KINDS) {
      if (!Object.hasOwn(options, kind)) continue;
      if (options[kind] === undefined) this.#userSet.delete(kind);
      else this.#userSet.add(kind);
    }
  }

  #measure(): void {
    this.#smallest = [];
    for (const kind of WINDOW_KINDS) {
      // A request takes one slot of a limit of at least one: never too large.
      if (WINDOW_KIND_TABLE[kind].unit === 'requests') continue;
      const windows = this.#resolved[kind];
      if (windows.length === 0) continue;
      const limit = Math.min(...windows.map((w) => w.limit));
      this.#smallest.push({ kind, limit, charge: WINDOW_KIND_TABLE[kind].charge });
    }
  }
}
