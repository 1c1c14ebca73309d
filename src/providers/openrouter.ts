import { OPENAI_ENDPOINTS, type ProviderSpec } from './provider-spec.js';

/** OpenRouter: OpenAI's API; `X-RateLimit-*` (requests, reset in Unix milliseconds) on limited answers. */
export const openrouter: ProviderSpec = {
  title: 'OpenRouter',
  headers: {
    limits: {
      requests: { limit: 'x-ratelimit-limit', remaining: 'x-ratelimit-remaining', reset: 'x-ratelimit-reset' },
    },
    reset: 'epoch-ms',
    zeroIsUnknown: false,
  },
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://openrouter.ai/api/v1',
  baseURLEnv: ['OPENROUTER_BASE_URL'],
  apiKeyEnv: ['OPENROUTER_API_KEY'],
  auth: 'bearer',
  errors: { names: { no_available_providers: 'overloaded' } },
  notes:
    'Free model variants (`:free`) allow 20 requests a minute and a daily cap; other limits come from the upstream provider. A rate limit after streaming began arrives as `data: {"error":{"code":429}}`. 402 means credits ran out: never retried.',
};
