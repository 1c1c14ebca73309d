import { MINUTE, openAiHeaders, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** OpenAI: `x-ratelimit-*` per minute, resets as Go durations until back to full. */
export const openai: ProviderSpec = {
  title: 'OpenAI',
  headers: openAiHeaders(MINUTE, MINUTE),
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://api.openai.com/v1',
  baseURLEnv: ['OPENAI_BASE_URL'],
  apiKeyEnv: ['OPENAI_API_KEY'],
  auth: 'bearer',
  notes:
    'Per organization and model, per minute (some tiers per day too); a minute may be enforced per second. TPM is charged up front (prompt + max tokens), failed requests included. Dated snapshots share their alias quota.',
};
