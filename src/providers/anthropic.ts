import { MINUTE, type LimitHeaders, type ProviderSpec } from './provider-spec.js';

const names = (kind: string): LimitHeaders => ({
  limit: `anthropic-ratelimit-${kind}-limit`,
  remaining: `anthropic-ratelimit-${kind}-remaining`,
  reset: `anthropic-ratelimit-${kind}-reset`,
  windowMs: MINUTE,
});

/** Anthropic: requests, input and output tokens per minute, resets as RFC 3339 moments. */
export const anthropic: ProviderSpec = {
  title: 'Anthropic',
  headers: {
    limits: {
      requests: names('requests'),
      tokens: names('tokens'),
      inputTokens: names('input-tokens'),
      outputTokens: names('output-tokens'),
    },
    reset: 'rfc3339',
    zeroIsUnknown: false,
    combinedTokensSummarise: true,
  },
  usage: 'anthropic',
  requestShape: 'anthropic-messages',
  endpoints: {
    generate: [[/\/messages$/, 'anthropic-messages']],
    countTokens: [/\/messages\/count_tokens$/],
    // Message batches, models, files; and what lies under /messages (a batch's results).
    manage: [/\/(?:models|files|organizations)(?:\/|$)/, /\/messages\/[^/]+/],
  },
  modelIn: 'body',
  baseURL: 'https://api.anthropic.com',
  baseURLEnv: ['ANTHROPIC_BASE_URL'],
  apiKeyEnv: ['ANTHROPIC_API_KEY'],
  auth: 'x-api-key',
  extraHeaders: { 'anthropic-version': '2023-06-01' },
  errors: {
    names: { overloaded_error: 'overloaded', rate_limit_error: 'rate-limit', api_error: 'server-error' },
    statuses: { 529: 'overloaded' },
  },
  notes:
    'RPM, ITPM and OTPM, replenished continuously, pooled by model class. ITPM counts input plus cache writes, not cache reads; OTPM is charged at max_tokens and corrected. `tokens-*` headers are the tightest of the token limits, not a budget. 529 is Anthropic out of capacity, not your limit. Streams report errors as `event: error`.',
};
