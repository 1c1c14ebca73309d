import { describeValue } from '../internal/describe.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import { countMode, countWith, optionalString, waitOption } from './text-counter.js';
import type { TokenCountMode } from './text-counter.js';

/** Options of {@link countTokens}. */
export interface CountTokensOptions {
  /**
   * The model whose encoding counts the text (see `encodingForModel`); unknown names fall back to
   * `o200k_base` rather than throwing. @default the `o200k_base` encoding
   */
  readonly model?: string | undefined;
  /** `tiktoken` counts with the real encoding; `fast` estimates without loading it. @default 'tiktoken' */
  readonly mode?: TokenCountMode | undefined;
  /**
   * In `tiktoken` mode, whether to wait for the tokenizer when it has not loaded yet (the first
   * time, 0.6-1 s; it loads in a worker thread, so waiting never blocks the event loop).
   * `false` never waits: until the tokenizer is ready the result is the fast estimate
   * (`estimateTokensFast`, one token per four UTF-8 bytes, which errs high for English), and the
   * call starts the load in the background; once it is ready, the exact count. Use it on request
   * paths, where a prompt estimate now matters more than an exact one later. @default true
   */
  readonly wait?: boolean | undefined;
}

const COUNT_KEYS = ['model', 'mode', 'wait'] as const;

/** Validated counting options. Internal. */
export interface ResolvedCountOptions {
  readonly model: string | undefined;
  readonly mode: TokenCountMode;
  readonly wait: boolean;
}

/** Validates the options every counting entry point shares. Internal. */
export function resolveCountOptions(
  where: string,
  options: unknown,
  extraKeys: readonly string[] = [],
): ResolvedCountOptions {
  const o = plainObject('options', options);
  knownKeys(where, o, [...COUNT_KEYS, ...extraKeys]);
  return { model: optionalString('model', o.model), mode: countMode('mode', o.mode), wait: waitOption('wait', o.wait) };
}

/**
 * Counts the tokens of `text` as the model's tokenizer sees it, without any chat overhead.
 *
 * In `tiktoken` mode the encoding loads on first use in a worker thread (cached, shared by
 * concurrent callers), so the first call waits up to a second, without blocking the event loop:
 * call `preloadTokenizer()` at startup, or pass `wait: false` to get the fast estimate until it is
 * ready. Counting runs in the worker too, so a long text never stalls this thread. Special-token
 * spellings such as `<|endoftext|>` count as plain text. Runs without word boundaries longer than
 * 64 bytes are estimated from samples instead of merged (js-tiktoken's merge is quadratic in
 * them): a megabyte without whitespace counts in a few milliseconds.
 *
 * @example
 * await countTokens('Hello, world!', { model: 'gpt-4o' }); // 4
 * await countTokens(prompt, { model: 'gpt-4o', wait: false }); // never waits for the tokenizer
 */
export async function countTokens(text: string, options: CountTokensOptions = {}): Promise<number> {
  if (typeof text !== 'string') throw new TypeError(`Expected \`text\` to be a string, got ${describeValue(text)}`);
  const { model, mode, wait } = resolveCountOptions('countTokens options', options);
  return countWith(model, mode, wait, (counter) => counter.count(text));
}
