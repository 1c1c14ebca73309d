import { describeValue } from '../internal/describe.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import { countMode, createTextCounter, optionalString } from './text-counter.js';
import type { TextCounter, TokenCountMode } from './text-counter.js';

/** Options of {@link countTokens}. */
export interface CountTokensOptions {
  /**
   * The model whose encoding counts the text (see `encodingForModel`); unknown names fall back to
   * `o200k_base` rather than throwing. @default the `o200k_base` encoding
   */
  readonly model?: string | undefined;
  /** `tiktoken` counts with the real encoding; `fast` estimates without loading it. @default 'tiktoken' */
  readonly mode?: TokenCountMode | undefined;
}

const COUNT_KEYS = ['model', 'mode'] as const;

/** Validated counting options. Internal. */
export interface ResolvedCountOptions {
  readonly model: string | undefined;
  readonly mode: TokenCountMode;
}

/** Validates the options every counting entry point shares. Internal. */
export function resolveCountOptions(
  where: string,
  options: unknown,
  extraKeys: readonly string[] = [],
): ResolvedCountOptions {
  const o = plainObject('options', options);
  knownKeys(where, o, [...COUNT_KEYS, ...extraKeys]);
  return { model: optionalString('model', o.model), mode: countMode('mode', o.mode) };
}

/**
 * Counts the tokens of `text` as the model's tokenizer sees it, without any chat overhead.
 *
 * In `tiktoken` mode the encoding loads on first use (dynamic import, cached, shared by concurrent
 * callers), so the first call takes up to a second: call `preloadTokenizer()` at startup to move
 * that off the request path. Special-token spellings such as `<|endoftext|>` count as plain text.
 * Runs without word boundaries longer than 64 bytes are estimated from samples instead of merged
 * (js-tiktoken's merge is quadratic in them), and long texts give the event loop a turn every few
 * milliseconds, so no input blocks it: a megabyte without whitespace counts in a few milliseconds.
 *
 * @example
 * await countTokens('Hello, world!', { model: 'gpt-4o' }); // 4
 */
export async function countTokens(text: string, options: CountTokensOptions = {}): Promise<number> {
  if (typeof text !== 'string') throw new TypeError(`Expected \`text\` to be a string, got ${describeValue(text)}`);
  const { model, mode } = resolveCountOptions('countTokens options', options);
  const counter: TextCounter = await createTextCounter(model, mode);
  return counter.count(text);
}
