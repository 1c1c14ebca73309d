import { MINUTE, openAiHeaders, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** xAI (Grok): OpenAI's API and header names; requests per second as well as per minute. */
export const xai: ProviderSpec = {
  title: 'xAI',
  headers: openAiHeaders(MINUTE, MINUTE),
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://api.x.ai/v1',
  baseURLEnv: ['XAI_BASE_URL'],
  apiKeyEnv: ['XAI_API_KEY'],
  auth: 'bearer',
  notes:
    'Per model: requests per second (the per-minute budget / 60) and tokens per minute. Give both request windows: `requests: [{ limit: rpm, windowMs: 60_000 }, { limit: rpm / 60, windowMs: 1_000 }]`.',
};
