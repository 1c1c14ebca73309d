import { describeValue } from '../internal/describe.js';
import { encodingForModel, loadEncoding } from './encoding.js';
import { estimateTokensFast } from './fast-estimate.js';
import { GuardedCounter } from './guarded-count.js';

/**
 * How text is counted:
 * - `tiktoken`: the model's OpenAI encoding through js-tiktoken (loaded on first use, about 2 MB
 *   of ranks); exact for OpenAI models apart from pathological pieces, an estimate for others.
 * - `fast`: {@link estimateTokensFast}, one token per four UTF-8 bytes; loads nothing.
 */
export type TokenCountMode = 'tiktoken' | 'fast';

/** Counts the strings of one request with one encoding. Internal. */
export interface TextCounter {
  count(text: string): Promise<number>;
}

const FAST_COUNTER: TextCounter = { count: async (text) => estimateTokensFast(text) };

/** A counter for `model` in `mode`, loading the encoding when needed. Internal. */
export async function createTextCounter(model: string | undefined, mode: TokenCountMode): Promise<TextCounter> {
  if (mode === 'fast') return FAST_COUNTER;
  return new GuardedCounter(await loadEncoding(encodingForModel(model)));
}

/** Validates `mode`; `undefined` means `tiktoken`. Internal. */
export function countMode(name: string, value: unknown): TokenCountMode {
  if (value === undefined || value === 'tiktoken') return 'tiktoken';
  if (value === 'fast') return 'fast';
  const message = `Expected \`${name}\` to be "tiktoken" or "fast", got ${describeValue(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

/** Validates an optional string option such as `model`. Internal. */
export function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new TypeError(`Expected \`${name}\` to be a string, got ${describeValue(value)}`);
}
