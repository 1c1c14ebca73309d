import { DAY, MINUTE, openAiHeaders, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** Groq: OpenAI's header names, but requests count per day and tokens per minute. */
export const groq: ProviderSpec = {
  title: 'Groq',
  headers: openAiHeaders(DAY, MINUTE),
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'https://api.groq.com/openai/v1',
  baseURLEnv: ['GROQ_BASE_URL'],
  apiKeyEnv: ['GROQ_API_KEY'],
  auth: 'bearer',
  errors: { names: { capacity_exceeded: 'overloaded' }, statuses: { 498: 'overloaded' } },
  notes:
    'RPM, RPD, TPM and TPD per model; `x-ratelimit-*-requests` reports the day. Cached tokens do not count. The flex tier answers 498 `capacity_exceeded` when full.',
};
