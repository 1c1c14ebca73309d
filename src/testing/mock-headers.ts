import { formatGoDuration } from '../providers/go-duration.js';
import type { MeterState } from './mock-limits.js';
import type { WindowKind } from '../core/vocabulary.js';
import type { MockProvider } from './mock-options.js';

/**
 * The meter that binds hardest among several of one kind (e.g. 20/s and 500/min): least remaining,
 * then the longest reset. Providers report one value per header, so this is the one to show.
 */
function binding(states: readonly MeterState[], kinds: readonly WindowKind[]): MeterState | undefined {
  let out: MeterState | undefined;
  for (const s of states) {
    if (!kinds.includes(s.kind)) continue;
    if (
      out === undefined ||
      s.remaining < out.remaining ||
      (s.remaining === out.remaining && s.resetMs > out.resetMs)
    ) {
      out = s;
    }
  }
  return out;
}

/**
 * The provider's rate-limit headers for the limits that are configured, as sent on every response.
 * - OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, resets as Go durations meaning
 *   "time until back to full".
 * - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`,
 *   resets as RFC 3339 times (with milliseconds, so short test windows stay readable). The `tokens`
 *   headers show the `tokens` limit, or else the most restrictive of input and output, as Anthropic does.
 */
export function rateLimitHeaders(
  provider: MockProvider,
  states: readonly MeterState[],
  wallNow: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  // Rounded up: reporting "full" a fraction of a millisecond early would invite a 429.
  const resetMs = (s: MeterState): number => Math.ceil(s.resetMs);
  if (provider === 'openai') {
    for (const [kind, suffix] of [
      ['requests', 'requests'],
      ['tokens', 'tokens'],
    ] as const) {
      const s = binding(states, [kind]);
      if (s === undefined) continue;
      headers[`x-ratelimit-limit-${suffix}`] = String(s.limit);
      headers[`x-ratelimit-remaining-${suffix}`] = String(s.remaining);
      headers[`x-ratelimit-reset-${suffix}`] = formatGoDuration(resetMs(s));
    }
    return headers;
  }
  const hasTokens = states.some((s) => s.kind === 'tokens');
  const groups: readonly (readonly [string, readonly WindowKind[]])[] = [
    ['requests', ['requests']],
    ['tokens', hasTokens ? ['tokens'] : ['inputTokens', 'outputTokens']],
    ['input-tokens', ['inputTokens']],
    ['output-tokens', ['outputTokens']],
  ];
  for (const [name, kinds] of groups) {
    const s = binding(states, kinds);
    if (s === undefined) continue;
    headers[`anthropic-ratelimit-${name}-limit`] = String(s.limit);
    headers[`anthropic-ratelimit-${name}-remaining`] = String(s.remaining);
    headers[`anthropic-ratelimit-${name}-reset`] = new Date(wallNow + resetMs(s)).toISOString();
  }
  return headers;
}
