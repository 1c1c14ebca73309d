import { urlPath } from '../internal/url-path.js';
import type { RequestApi } from '../tokens/index.js';

/*
 * Which requests the fetch wrapper charges to a model's generation budgets. Providers limit
 * generation (requests and tokens per model); listing models, counting tokens, files and batch
 * management are not generation: charging them would spend the budgets on requests the provider
 * does not count there.
 */

/** What a request is, as far as the limits go. Internal. */
export type Endpoint =
  /** Generates (or embeds): charged to the model's limiter. `api` picks the body fields the estimate reads. */
  | { readonly kind: 'generate'; readonly api: RequestApi | undefined }
  /** Counts tokens: limited apart by the providers that limit it (Anthropic), never charged tokens. */
  | { readonly kind: 'count-tokens' }
  /** Anything else: sent as it is, no request slot, no tokens. */
  | { readonly kind: 'pass' };

/** The generation APIs, by the end of their path. */
const GENERATE: readonly [RegExp, RequestApi | undefined][] = [
  [/\/chat\/completions$/, 'chat'],
  [/\/responses$/, 'responses'],
  [/\/embeddings$/, 'embeddings'],
  [/\/completions$/, 'completions'],
  [/\/messages$/, 'anthropic-messages'],
  [/:(?:stream)?generatecontent$/i, 'gemini'],
  [/:(?:embedContent|batchEmbedContents)$/i, undefined],
];

/** Token counting: Anthropic, OpenAI Responses, Gemini. */
const COUNT_TOKENS = /(?:\/messages\/count_tokens|\/responses\/input_tokens|:counttokens)$/i;

/**
 * Management: models, files and uploads, batches (OpenAI's and Anthropic's message batches,
 * Gemini's batch calls), fine-tuning, vector stores, cached contents, the organization; and what
 * lies under a generation API's path (a stored completion or response, its cancel).
 */
const MANAGEMENT =
  /\/(?:models|files|uploads|batches|fine_tuning|fine-tuning|vector_stores|organization|organizations|containers|cachedContents|operations|upload)(?:\/|$|:)|:(?:batchGenerateContent|asyncBatchEmbedContent)$|\/(?:chat\/completions|responses|messages)\/[^/]+/i;

/** Methods that never generate: they read, list or delete. */
const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * What a request is, from its URL and method:
 * - `generate`: a POST to chat/completions, completions, responses, embeddings, Anthropic
 *   messages, Gemini generateContent / streamGenerateContent, or to any path not known below (an
 *   unknown POST is charged, as it was before endpoints were told apart);
 * - `count-tokens`: `POST /v1/messages/count_tokens`, `POST /v1/responses/input_tokens`, Gemini
 *   `:countTokens`;
 * - `pass`: GET, HEAD, OPTIONS and DELETE, and models, files, batches and other management.
 */
export function endpointOf(url: string, method: string): Endpoint {
  const path = urlPath(url).replace(/\/+$/, '');
  if (READ_ONLY.has(method.toUpperCase())) return { kind: 'pass' };
  if (COUNT_TOKENS.test(path)) return { kind: 'count-tokens' };
  for (const [pattern, api] of GENERATE) if (pattern.test(path)) return { kind: 'generate', api };
  if (MANAGEMENT.test(path)) return { kind: 'pass' };
  return { kind: 'generate', api: undefined };
}

/** The method of a fetch call: `init.method`, else the `Request`'s, else GET. */
export function methodOf(input: string | URL | Request, init: RequestInit | undefined): string {
  return init?.method ?? (input instanceof Request ? input.method : 'GET');
}
