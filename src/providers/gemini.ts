import { NO_HEADERS, type ProviderSpec } from './provider-spec.js';

/** Google Gemini: no rate-limit headers; the model is in the URL; 429s say how long to wait. */
export const gemini: ProviderSpec = {
  title: 'Google Gemini',
  headers: NO_HEADERS,
  usage: 'gemini',
  endpoints: {
    generate: [
      [/:(?:stream)?generatecontent$/i, 'gemini'],
      [/:(?:embedContent|batchEmbedContents)$/i, undefined],
    ],
    countTokens: [/:counttokens$/i],
    manage: [
      /\/(?:files|cachedContents|operations|upload|tunedModels)(?:\/|$|:)/i,
      /:(?:batchGenerateContent|asyncBatchEmbedContent)$/i,
    ],
  },
  modelIn: 'url',
  baseURL: 'https://generativelanguage.googleapis.com',
  baseURLEnv: [],
  apiKeyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
  auth: 'x-goog-api-key',
  errors: { names: { resource_exhausted: 'rate-limit', unavailable: 'overloaded', internal: 'server-error' } },
  notes:
    'RPM, TPM and RPD per model and project, none in headers: give them. A 429 carries `google.rpc.RetryInfo` with the delay; a per-day quota (`PerDay`) is never retried.',
};
