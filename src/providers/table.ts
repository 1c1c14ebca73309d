import { anthropic } from './anthropic.js';
import { azure } from './azure.js';
import { deepseek } from './deepseek.js';
import { gemini } from './gemini.js';
import { groq } from './groq.js';
import { mistral } from './mistral.js';
import { openai } from './openai.js';
import { openaiCompatible, vllm } from './openai-compatible.js';
import { openrouter } from './openrouter.js';
import type { ProviderSpec } from './provider-spec.js';
import { xai } from './xai.js';

/** Every provider forestall knows, by the name options and the command take. One line each. */
export const PROVIDER_TABLE = {
  openai,
  'openai-compatible': openaiCompatible,
  groq,
  anthropic,
  azure,
  mistral,
  gemini,
  openrouter,
  deepseek,
  xai,
  vllm,
} as const satisfies Readonly<Record<string, ProviderSpec>>;

/** Every provider's module, in the table's order. */
export const PROVIDER_SPECS: readonly ProviderSpec[] = Object.values(PROVIDER_TABLE);
