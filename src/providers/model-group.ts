import { urlPath } from '../internal/url-path.js';

/*
 * Which limiter a model shares. Providers limit a dated snapshot and its alias as one model
 * (`gpt-4o` and `gpt-4o-2024-08-06`, `claude-sonnet-4-5` and `claude-sonnet-4-5-20250929`), so
 * by default they share one limiter; a provider's `group(model)` can pool more widely.
 */

/** A trailing snapshot date or alias: `-2024-08-06`, `-20250929`, `@20250929` (Vertex), `-latest`. */
const SNAPSHOT_SUFFIX = /(?:[-@]\d{4}-\d{2}-\d{2}|[-@]\d{8}|-latest)$/;

/**
 * The model a name is a snapshot or alias of: the name without a trailing date (`-2024-08-06`,
 * `-20250929`, `@20250929`) or `-latest`. `gpt-4o-2024-08-06` → `gpt-4o`,
 * `claude-3-5-haiku-latest` → `claude-3-5-haiku`, `gpt-4o` → `gpt-4o`.
 */
export function defaultModelGroup(model: string): string {
  const base = model.replace(SNAPSHOT_SUFFIX, '');
  return base === '' ? model : base;
}

/**
 * The model named by a request's URL, for providers that put it there: Gemini
 * (`/v1beta/models/gemini-2.5-pro:generateContent`, `:streamGenerateContent`, `:countTokens`) and
 * Azure OpenAI (`/openai/deployments/<deployment>/chat/completions`: the deployment). Undefined when
 * the URL names none.
 */
export function modelFromUrl(url: string): string | undefined {
  const path = urlPath(url);
  const gemini = /\/models\/([^/:]+):[A-Za-z]+$/.exec(path);
  if (gemini?.[1] !== undefined) return decodeURIComponent(gemini[1]);
  const azure = /\/openai\/deployments\/([^/]+)\//.exec(path);
  if (azure?.[1] !== undefined) return decodeURIComponent(azure[1]);
  return undefined;
}
