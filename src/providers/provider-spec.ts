import type { RequestApi } from '../tokens/estimate.js';
import type { StreamErrorKind } from './stream-errors.js';

/*
 * What forestall knows of one provider, in one place: each provider is a module exporting a
 * `ProviderSpec`, and `table.ts` lists them. Adding a provider is one module and one line there;
 * the provider names (`PROVIDER_NAMES`, the command's `--provider`), header reading, usage,
 * request shapes, error codes, base URLs and keys all come from the table.
 */

/** A window, by what its header names mean. */
export type LimitKey = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens' | 'monthlyTokens';

/** Where one limit's headers live, and the window they speak of when the provider's convention says. */
export interface LimitHeaders {
  readonly limit?: string;
  readonly remaining?: string;
  readonly reset?: string;
  /** The window the limit applies to, as the provider's convention states it. */
  readonly windowMs?: number;
  /**
   * Not stated, but known of the provider: the window its limit is set per (Azure: a minute, though
   * it checks over 1 s or 10 s). Without either, the window is read from the resets.
   */
  readonly assumeWindowMs?: number;
}

/** How a provider's rate-limit headers are named and what their values mean. */
export interface HeaderSpec {
  readonly limits: Partial<Record<LimitKey, LimitHeaders>>;
  /**
   * How a reset reads: a Go duration until back to full (`6m0s`, OpenAI), an RFC 3339 moment
   * (Anthropic), or a Unix time in milliseconds (OpenRouter).
   */
  readonly reset: 'duration' | 'rfc3339' | 'epoch-ms';
  /** `-1` and `0` in limit and reset headers mean "not known" (Azure). */
  readonly zeroIsUnknown: boolean;
  /**
   * The combined `tokens-*` headers are the most restrictive of the input and output limits in
   * force, not a budget of their own (Anthropic): left out when the separate ones are there.
   */
  readonly combinedTokensSummarise?: true;
}

/** The usage fields a provider's answers carry. */
export type UsageShape = 'openai' | 'anthropic' | 'gemini';

/** How a provider's API key is sent. */
export type AuthScheme = 'bearer' | 'x-api-key' | 'api-key' | 'x-goog-api-key';

/** Which of a provider's endpoints generate, count tokens, or manage (by the end of the path). */
export interface EndpointSpec {
  /** Generation (and embedding): charged to the model's limiter; `api` is the body shape, when the path says it. */
  readonly generate: readonly (readonly [RegExp, RequestApi | undefined])[];
  /** Token counting: the registry's `count_tokens` limiter, never charged tokens. */
  readonly countTokens: readonly RegExp[];
  /** Models, files, batches and the like: passed straight through. */
  readonly manage: readonly RegExp[];
}

/** OpenAI's API, which OpenAI-compatible servers (Azure, Groq, Mistral, OpenRouter, ...) share. */
export const OPENAI_ENDPOINTS: EndpointSpec = {
  generate: [
    [/\/chat\/completions$/, 'chat'],
    [/\/responses$/, 'responses'],
    [/\/embeddings$/, 'embeddings'],
    [/\/completions$/, 'completions'],
  ],
  countTokens: [/\/responses\/input_tokens$/],
  manage: [
    /\/(?:models|files|uploads|batches|fine_tuning|fine-tuning|vector_stores|organization|organizations|containers)(?:\/|$)/,
    // What lies under a generation API's path: a stored completion or response, its cancel.
    /\/(?:chat\/completions|responses)\/[^/]+/,
  ],
};

/** One provider. */
export interface ProviderSpec {
  /** How people write it: "OpenAI", "Azure OpenAI". */
  readonly title: string;
  /** Rate-limit headers: names, windows, reset format, what `-1`/`0` mean. */
  readonly headers: HeaderSpec;
  /** The usage fields of its answers (JSON and streams). */
  readonly usage: UsageShape;
  /**
   * The request body shape of its generation endpoints when the path does not tell:
   * `anthropic-messages` for Anthropic; otherwise detected from the body (chat, responses, ...).
   */
  readonly requestShape?: 'anthropic-messages';
  /** Which endpoints generate, count tokens, or manage. */
  readonly endpoints: EndpointSpec;
  /** Where a request names its model: the body's `model`, or the URL (Gemini's model, Azure's deployment). */
  readonly modelIn: 'body' | 'url';
  /** Its API's base URL; undefined when every user has their own (Azure, a self-hosted server). */
  readonly baseURL: string | undefined;
  /** Environment variables naming the base URL, as its SDK reads them. */
  readonly baseURLEnv: readonly string[];
  /** Environment variables holding the key, first found wins. */
  readonly apiKeyEnv: readonly string[];
  readonly auth: AuthScheme;
  /** Headers every request carries besides the key (Anthropic's `anthropic-version`). */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /**
   * Its own error names (in `type` or `code`, before or inside a stream) and HTTP statuses beyond
   * the shared ones (429, 5xx, `rate_limit_exceeded`, ...), and what each means.
   */
  readonly errors?: {
    readonly names?: Readonly<Record<string, StreamErrorKind>>;
    readonly statuses?: Readonly<Record<number, Exclude<StreamErrorKind, 'other'>>>;
  };
  /** What else to know: windows its headers cannot state, pooling, quirks. Shown in the README. */
  readonly notes: string;
}

/** OpenAI's header names, with the windows a provider's convention gives them. */
export function openAiHeaders(
  requestsWindowMs: number | undefined,
  tokensWindowMs: number | undefined,
  assumeWindowMs?: number,
): HeaderSpec {
  const names = (kind: string, windowMs: number | undefined): LimitHeaders => ({
    limit: `x-ratelimit-limit-${kind}`,
    remaining: `x-ratelimit-remaining-${kind}`,
    reset: `x-ratelimit-reset-${kind}`,
    ...(windowMs === undefined ? {} : { windowMs }),
    ...(assumeWindowMs === undefined ? {} : { assumeWindowMs }),
  });
  return {
    limits: { requests: names('requests', requestsWindowMs), tokens: names('tokens', tokensWindowMs) },
    reset: 'duration',
    zeroIsUnknown: false,
  };
}

/** A provider that sends no rate-limit headers. */
export const NO_HEADERS: HeaderSpec = { limits: {}, reset: 'duration', zeroIsUnknown: false };

export const MINUTE = 60_000;
export const DAY = 86_400_000;
