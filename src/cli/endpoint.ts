import { PROVIDER_TABLE } from '../providers/table.js';
import type { ProviderName } from '../providers/types.js';

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

/** Where the provider's API lives when `--base-url` is not given (undefined: it must be given). */
export function defaultBaseUrl(provider: ProviderName): string | undefined {
  return PROVIDER_TABLE[provider].baseURL;
}

/** Environment variables read for the base URL, as the provider's SDK reads them. */
export function baseUrlEnv(provider: ProviderName): readonly string[] {
  return PROVIDER_TABLE[provider].baseURLEnv;
}

/** Environment variables read for the API key, first found wins. */
export function apiKeyEnv(provider: ProviderName): readonly string[] {
  return PROVIDER_TABLE[provider].apiKeyEnv;
}

/** The headers that carry the API key, in the provider's convention, and any it always sends. */
export function authHeaders(provider: ProviderName, apiKey: string): Record<string, string> {
  const spec = PROVIDER_TABLE[provider];
  const key: Record<string, string> =
    spec.auth === 'bearer' ? { authorization: `Bearer ${apiKey}` } : { [spec.auth]: apiKey };
  return { ...key, ...spec.extraHeaders };
}

/** A header value made of printable ASCII (fetch refuses others): non-ASCII ids are percent-encoded. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
