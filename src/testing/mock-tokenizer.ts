import { countTokens } from '../tokens/count.js';
import { preloadTokenizer } from '../tokens/preload.js';
import type { PromptTally } from './mock-counting.js';

/**
 * How the mock measures prompt text (see `MockServerOptions.tokenizer`):
 * - `tiktoken`: each text's `o200k_base` tokens, through js-tiktoken, for every model;
 * - `fast`: one token per four bytes of UTF-8 of all the request's text together, rounded up once.
 */
export type MockTokenizer = 'tiktoken' | 'fast';

/** What the mock counts with when `tokenizer` is not given. */
export const DEFAULT_MOCK_TOKENIZER: MockTokenizer = 'tiktoken';

const BYTES_PER_FAST_TOKEN = 4;

/*
 * Text is measured with `o200k_base` through forestall's tokenizer worker: the BPE engine only,
 * fed the texts the mock's own rule picks (mock-counting.ts), with the mock's own overheads; none
 * of the client's estimator. In the worker, the encoder's 100 MB of ranks stay off this thread's
 * heap: on it, their garbage collections paused the mock for tens of milliseconds, and requests
 * arriving meanwhile were stamped late, as if they had arrived later than they did.
 */
const MOCK_ENCODING_MODEL = 'gpt-4o';

/** Loads the encoder the mock measures with, in the worker (the event loop never waits on it). */
export async function loadMockEncoder(): Promise<void> {
  await preloadTokenizer({ model: MOCK_ENCODING_MODEL });
}

/** The prompt tokens of a tally, its texts measured by `tokenizer`. */
export async function measurePrompt(tally: PromptTally, tokenizer: MockTokenizer): Promise<number> {
  if (tokenizer === 'fast') {
    let bytes = 0;
    for (const text of tally.texts) bytes += Buffer.byteLength(text, 'utf8');
    return tally.tokens + Math.ceil(bytes / BYTES_PER_FAST_TOKEN);
  }
  // Special-token spellings (`<|endoftext|>`) count as text, as the APIs treat them.
  const counts = await Promise.all(tally.texts.map((text) => countTokens(text, { model: MOCK_ENCODING_MODEL })));
  return counts.reduce((sum, n) => sum + n, tally.tokens);
}
