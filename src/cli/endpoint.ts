import type { ProviderName } from '../providers/types.js';

/** Where each provider's API lives when `--base-url` is not given (none: it must be given). */
export const DEFAULT_BASE_URLS: Readonly<Record<ProviderName, string | undefined>> = {
  openai: 'https://api.openai.com/v1',
  'openai-compatible': undefined,
  anthropic: 'https://api.anthropic.com',
  azure: undefined,
  groq: 'https://api.groq.com/openai/v1',
  mistral: 'https://api.mistral.ai/v1',
  gemini: 'https://generativelanguage.googleapis.com',
};

/** Environment variables read for the base URL, as the providers' SDKs read them. */
export const BASE_URL_ENV: Readonly<Record<ProviderName, readonly string[]>> = {
  openai: ['OPENAI_BASE_URL'],
  'openai-compatible': ['OPENAI_BASE_URL'],
  anthropic: ['ANTHROPIC_BASE_URL'],
  azure: ['AZURE_OPENAI_ENDPOINT'],
  groq: ['GROQ_BASE_URL'],
  mistral: ['MISTRAL_BASE_URL'],
  gemini: [],
};

/** Environment variables read for the API key, first found wins. */
export const API_KEY_ENV: Readonly<Record<ProviderName, readonly string[]>> = {
  openai: ['OPENAI_API_KEY'],
  'openai-compatible': ['OPENAI_API_KEY'],
  anthropic: ['ANTHROPIC_API_KEY'],
  azure: ['AZURE_OPENAI_API_KEY'],
  groq: ['GROQ_API_KEY'],
  mistral: ['MISTRAL_API_KEY'],
  gemini: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
};

/** The first of `names` set to a non-empty value in `env`. */
export function fromEnv(env: NodeJS.ProcessEnv, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * The URL a batch line's `url` (a path such as `/v1/chat/completions`, maybe with a query) names
 * under `baseUrl`. Path segments the base ends with and the path starts with are not repeated:
 * `https://api.openai.com/v1` + `/v1/chat/completions` is `https://api.openai.com/v1/chat/completions`,
 * as is `https://api.openai.com/v1` + `/chat/completions`; `https://api.groq.com/openai/v1` +
 * `/v1/chat/completions` is `https://api.groq.com/openai/v1/chat/completions`. Query parameters
 * of both are kept.
 */
export function joinUrl(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  const queryAt = path.indexOf('?');
  const pathPart = queryAt === -1 ? path : path.slice(0, queryAt);
  const query = queryAt === -1 ? '' : path.slice(queryAt + 1);
  const base = url.pathname.split('/').filter((s) => s !== '');
  const tail = pathPart.split('/').filter((s) => s !== '');
  let overlap = 0;
  for (let k = Math.min(base.length, tail.length); k > 0; k--) {
    if (base.slice(base.length - k).every((segment, i) => segment === tail[i])) {
      overlap = k;
      break;
    }
  }
  url.pathname = `/${[...base, ...tail.slice(overlap)].join('/')}`;
  for (const [name, value] of new URLSearchParams(query)) url.searchParams.append(name, value);
  return url.toString();
}

/** The headers that carry the API key, in each provider's convention. */
export function authHeaders(provider: ProviderName, apiKey: string): Record<string, string> {
  switch (provider) {
    case 'anthropic':
      return { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' };
    case 'azure':
      return { 'api-key': apiKey };
    case 'gemini':
      return { 'x-goog-api-key': apiKey };
    default:
      return { authorization: `Bearer ${apiKey}` };
  }
}

/** A header value made of printable ASCII (fetch refuses others): non-ASCII ids are percent-encoded. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
