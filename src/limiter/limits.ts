import type { Cost, ResolvedLimits, ResolvedWindow } from '../core/vocabulary.js';
import type { LimitOptions, TokenCost, WindowLimit } from '../core/vocabulary.js';
import {
  knownKeys,
  nonNegativeInteger,
  nonNegativeNumber,
  plainObject,
  positiveInteger,
  positiveNumber,
} from '../internal/validate.js';

/** The keys `updateLimits` accepts. */
export const LIMIT_KEYS = [
  'requests',
  'tokens',
  'inputTokens',
  'outputTokens',
  'concurrency',
  'maxQueue',
  'marginMs',
] as const;

type WindowKey = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens';

/** The window kinds, in a fixed order. */
export const WINDOW_KINDS: readonly WindowKey[] = ['requests', 'tokens', 'inputTokens', 'outputTokens'];

function windows(key: WindowKey, value: unknown): ResolvedWindow[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) {
    throw new RangeError(`Expected \`${key}\` to hold at least one window, got an empty array`);
  }
  return list.map((item, i) => {
    const name = Array.isArray(value) ? `${key}[${i}]` : key;
    const w = plainObject(name, item);
    knownKeys(`\`${name}\``, w, ['limit', 'windowMs']);
    // A request count must be whole; a token budget may be any positive amount.
    const limit =
      key === 'requests' ? positiveInteger(`${name}.limit`, w.limit) : positiveNumber(`${name}.limit`, w.limit);
    return { limit, windowMs: positiveNumber(`${name}.windowMs`, w.windowMs) };
  });
}

/** Limits after validation, with `maxQueue` (which the scheduler, not the store, enforces). */
export interface ResolvedOptions extends ResolvedLimits {
  readonly maxQueue: number;
}

/**
 * Validates limit options and merges them over `base`: a key that is present replaces the old
 * value (present but `undefined` removes that limit), an absent key keeps it.
 */
export function resolveLimits(options: LimitOptions, base?: ResolvedOptions): ResolvedOptions {
  const has = (key: keyof LimitOptions): boolean => Object.hasOwn(options, key);
  const pick = <K extends WindowKey>(key: K): ResolvedWindow[] =>
    has(key) || base === undefined ? windows(key, options[key]) : [...base[key]];
  // Present and defined: validated; present as undefined (or no base): the default; absent: kept.
  const scalar = (
    key: 'concurrency' | 'maxQueue' | 'marginMs',
    check: (name: string, value: unknown) => number,
    fallback: number,
  ): number => {
    const value = options[key];
    if (value !== undefined) return check(key, value);
    return has(key) || base === undefined ? fallback : base[key];
  };
  return {
    requests: pick('requests'),
    tokens: pick('tokens'),
    inputTokens: pick('inputTokens'),
    outputTokens: pick('outputTokens'),
    concurrency: scalar('concurrency', positiveInteger, Number.POSITIVE_INFINITY),
    maxQueue: scalar('maxQueue', nonNegativeInteger, Number.POSITIVE_INFINITY),
    marginMs: scalar('marginMs', nonNegativeNumber, 0),
  };
}

const ZERO_COST: Cost = Object.freeze({ input: 0, output: 0 });

/** Validates a token cost: a number counts as input tokens. */
export function resolveCost(tokens: TokenCost | undefined, name = 'tokens'): Cost {
  if (tokens === undefined) return ZERO_COST;
  if (typeof tokens === 'number') return { input: nonNegativeNumber(name, tokens), output: 0 };
  const t = plainObject(name, tokens);
  knownKeys(`\`${name}\``, t, ['input', 'output']);
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
    requests: list(limits.requests),
    tokens: list(limits.tokens),
    inputTokens: list(limits.inputTokens),
    outputTokens: list(limits.outputTokens),
    concurrency: Number.isFinite(limits.concurrency) ? limits.concurrency : undefined,
    maxQueue: Number.isFinite(limits.maxQueue) ? limits.maxQueue : undefined,
    marginMs: limits.marginMs,
  };
}
