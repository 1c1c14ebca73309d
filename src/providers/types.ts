import { PROVIDER_TABLE } from './table.js';

/**
 * The providers forestall knows, one module each (`src/providers/<name>.ts`, listed in
 * `table.ts`): `openai`, `openai-compatible`, `groq`, `anthropic`, `azure`, `mistral`, `gemini`,
 * and the OpenAI-compatible services with ways of their own: `openrouter`, `deepseek`, `xai`,
 * `vllm`. Each says how its rate-limit headers read, where its model is named, its usage
 * fields, error codes, base URL and key variable.
 */
export type ProviderName = keyof typeof PROVIDER_TABLE;

/** Every {@link ProviderName}, for validation and iteration, in the table's order. */
export const PROVIDER_NAMES: readonly ProviderName[] = Object.freeze(Object.keys(PROVIDER_TABLE) as ProviderName[]);

/** The provider's module, or undefined for a name not in the table. */
export function providerSpec(name: string): (typeof PROVIDER_TABLE)[ProviderName] | undefined {
  return Object.hasOwn(PROVIDER_TABLE, name) ? PROVIDER_TABLE[name as ProviderName] : undefined;
}

/**
 * What the provider said about one limit. Every field is optional: a field is set only when its
 * header was present and made sense.
 */
export interface RateLimitWindowSnapshot {
  /** The limit per window (requests or tokens). */
  readonly limit?: number;
  /** How much of the limit is left right now. */
  readonly remaining?: number;
  /** Milliseconds until the limit is back to full (not merely until the next unit frees up). */
  readonly resetMs?: number;
  /**
   * The window the limit applies to, when the provider's convention makes it known: 60,000 for
   * OpenAI, Anthropic, Mistral `-minute` and Groq tokens; 86,400,000 for Groq requests (per day).
   */
  readonly windowMs?: number;
}

/**
 * Rate-limit state read from one response's headers by `parseRateLimitHeaders`, ready to hand to
 * `limiter.observe(snapshot)`. Limits the response said nothing about are absent.
 */
export interface RateLimitSnapshot {
  /** The provider whose header conventions were used. */
  readonly provider: ProviderName;
  /** Requests per window. */
  readonly requests?: RateLimitWindowSnapshot;
  /**
   * Tokens per window (input + output). For Anthropic this is the most restrictive token limit in
   * effect, as the `anthropic-ratelimit-tokens-*` headers report it.
   */
  readonly tokens?: RateLimitWindowSnapshot;
  /** Input tokens per window (Anthropic ITPM). */
  readonly inputTokens?: RateLimitWindowSnapshot;
  /** Output tokens per window (Anthropic OTPM). */
  readonly outputTokens?: RateLimitWindowSnapshot;
  /** Mistral's monthly token quota (`x-ratelimit-*-tokens-month`); months vary, so no `windowMs`. */
  readonly monthlyTokens?: RateLimitWindowSnapshot;
  /**
   * How long the server asked callers to wait, from `retry-after-ms`, `x-ms-retry-after-ms` or
   * `retry-after` (seconds or an HTTP date), in that order of preference.
   */
  readonly retryAfterMs?: number;
}
