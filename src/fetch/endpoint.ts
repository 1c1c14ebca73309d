import { urlPath } from '../internal/url-path.js';
import type { EndpointSpec } from '../providers/provider-spec.js';
import { PROVIDER_SPECS, PROVIDER_TABLE } from '../providers/table.js';
import type { ProviderName } from '../providers/types.js';
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

/** Every provider's endpoints together: for a URL whose provider is not known. */
const ALL_ENDPOINTS: EndpointSpec = {
  generate: [...new Set(PROVIDER_SPECS.flatMap((spec) => spec.endpoints.generate))],
  countTokens: [...new Set(PROVIDER_SPECS.flatMap((spec) => spec.endpoints.countTokens))],
  manage: [...new Set(PROVIDER_SPECS.flatMap((spec) => spec.endpoints.manage))],
};

/** Methods that never generate: they read, list or delete. */
const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * What a request is, from its URL and method, by the provider's module (`endpoints`), or by
 * every provider's when none is named:
 * - `generate`: a POST to a generation endpoint (chat/completions, completions, responses,
 *   embeddings, Anthropic messages, Gemini generateContent / streamGenerateContent, ...), or to any
 *   path not known below (an unknown POST is charged, as it was before endpoints were told apart);
 * - `count-tokens`: `POST /v1/messages/count_tokens`, `POST /v1/responses/input_tokens`, Gemini
 *   `:countTokens`;
 * - `pass`: GET, HEAD, OPTIONS and DELETE, and models, files, batches and other management.
 */
export function endpointOf(url: string, method: string, provider?: ProviderName): Endpoint {
  const path = urlPath(url).replace(/\/+$/, '');
  if (READ_ONLY.has(method.toUpperCase())) return { kind: 'pass' };
  const endpoints = provider === undefined ? ALL_ENDPOINTS : PROVIDER_TABLE[provider].endpoints;
  if (endpoints.countTokens.some((pattern) => pattern.test(path))) return { kind: 'count-tokens' };
  for (const [pattern, api] of endpoints.generate) if (pattern.test(path)) return { kind: 'generate', api };
  if (endpoints.manage.some((pattern) => pattern.test(path))) return { kind: 'pass' };
  return { kind: 'generate', api: undefined };
}

/** The method of a fetch call: `init.method`, else the `Request`'s, else GET. */
export function methodOf(input: string | URL | Request, init: RequestInit | undefined): string {
  return init?.method ?? (input instanceof Request ? input.method : 'GET');
}
