import { NO_HEADERS, openAiHeaders, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** Any server speaking OpenAI's API: OpenAI's header names when it sends them, windows unknown. */
export const openaiCompatible: ProviderSpec = {
  title: 'OpenAI-compatible server',
  headers: openAiHeaders(undefined, undefined),
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: undefined,
  baseURLEnv: ['OPENAI_BASE_URL'],
  apiKeyEnv: ['OPENAI_API_KEY'],
  auth: 'bearer',
  notes:
    'Headers, if any, in OpenAI\'s names; their window is not stated, so the limits you give (or a minute) apply. Gateways send errors inside a stream as `data: {"error":{...}}`.',
};

/** vLLM's OpenAI-compatible server: no rate limits of its own, only its capacity. */
export const vllm: ProviderSpec = {
  title: 'vLLM',
  headers: NO_HEADERS,
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'body',
  baseURL: 'http://localhost:8000/v1',
  baseURLEnv: ['VLLM_BASE_URL', 'OPENAI_BASE_URL'],
  apiKeyEnv: ['VLLM_API_KEY', 'OPENAI_API_KEY'],
  auth: 'bearer',
  notes:
    'Self-hosted: no published limit and no rate-limit headers; an overloaded server answers 503 (or queues). Cap concurrency to what the server holds.',
};
