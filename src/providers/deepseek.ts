import { NO_HEADERS, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** DeepSeek: OpenAI's API, no fixed rate limit, no rate-limit headers. */
export const deepseek: ProviderSpec = {
  title: 'DeepSeek',
  headers: NO_HEADERS,
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://api.deepseek.com',
  baseURLEnv: ['DEEPSEEK_BASE_URL'],
  apiKeyEnv: ['DEEPSEEK_API_KEY'],
  auth: 'bearer',
  notes:
    'No published limit: under load it answers 429 or 503, or holds the request open sending empty lines (JSON) or `: keep-alive` comments (streams). Cap concurrency rather than rate.',
};
