import { MINUTE, openAiHeaders, type ProviderSpec, OPENAI_ENDPOINTS } from './provider-spec.js';

/** Azure OpenAI: mainly `x-ratelimit-remaining-*`; `-1` and `0` mean unknown; the deployment is in the URL. */
export const azure: ProviderSpec = {
  title: 'Azure OpenAI',
  // Quota is set per minute but checked over 1 s or 10 s intervals: the window of a "remaining"
  // is not knowable, the limit's is a minute.
  headers: {
    ...openAiHeaders(undefined, undefined, MINUTE),
    zeroIsUnknown: true,
  },
  usage: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  modelIn: 'url',
  baseURL: undefined,
  baseURLEnv: ['AZURE_OPENAI_ENDPOINT'],
  apiKeyEnv: ['AZURE_OPENAI_API_KEY'],
  auth: 'api-key',
  notes:
    'RPM is 6 per 1,000 TPM, enforced over 1 s or 10 s. A request without max_tokens reserves the whole context. Daily quota errors name a day-long retry-after.',
};
