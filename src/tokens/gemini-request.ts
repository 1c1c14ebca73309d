import { countContent, jsonText } from './content.js';
import { isObject } from '../internal/is-object.js';
import type { JsonObject } from '../internal/is-object.js';
import { countMessage } from './messages.js';
import type { EstimateContext, RequestTokenEstimate } from './estimate-context.js';
import { integerField } from './request-fields.js';

/**
 * Gemini `generateContent` (`contents`, `systemInstruction`, `tools`,
 * `generationConfig.maxOutputTokens`, `candidateCount`). Gemini's tokenizer is not shipped, so this
 * is an o200k_base estimate. Internal.
 */
export async function estimateGemini(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  const { counter } = ctx;
  const system = body.systemInstruction ?? body.system_instruction;
  let input = isObject(system) ? await countContent(counter, system.parts) : await countContent(counter, system);
  if (Array.isArray(body.contents)) for (const content of body.contents) input += await countMessage(counter, content);
  if (Array.isArray(body.tools)) for (const tool of body.tools) input += await counter.count(jsonText(tool));
  const config = body.generationConfig ?? body.generation_config;
  const generation = isObject(config) ? config : {};
  const perCandidate =
    integerField(generation, 'maxOutputTokens') ?? integerField(generation, 'max_output_tokens') ?? ctx.reservation;
  const candidates =
    integerField(generation, 'candidateCount', 1) ?? integerField(generation, 'candidate_count', 1) ?? 1;
  return { input, output: perCandidate * candidates };
}
