import { MINUTE, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** Mistral: `x-ratelimit-*-req-minute` and `-tokens-minute`, and a monthly token quota. */
export const mistral: ProviderSpec = {
  title: 'Mistral',
  headers: {
    limits: {
      requests: {
        limit: 'x-ratelimit-limit-req-minute',
        remaining: 'x-ratelimit-remaining-req-minute',
        windowMs: MINUTE,
      },
      tokens: {
        limit: 'x-ratelimit-limit-tokens-minute',
        remaining: 'x-ratelimit-remaining-tokens-minute',
        windowMs: MINUTE,
      },
      monthlyTokens: { limit: 'x-ratelimit-limit-tokens-month', remaining: 'x-ratelimit-remaining-tokens-month' },
    },
    reset: 'duration',
    zeroIsUnknown: false,
  },
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://api.mistral.ai/v1',
  baseURLEnv: ['MISTRAL_BASE_URL'],
  apiKeyEnv: ['MISTRAL_API_KEY'],
  auth: 'bearer',
  notes: 'Requests and tokens per minute, and tokens per month (months vary: no window is adopted for it).',
};
