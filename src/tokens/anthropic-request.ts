import { countContent, jsonText } from './content.js';
import { isObject } from '../internal/is-object.js';
import type { JsonObject } from '../internal/is-object.js';
import { countMessage } from './messages.js';
import type { EstimateContext, RequestTokenEstimate } from './estimate-context.js';
import { integerField } from './request-fields.js';

/*
 * Anthropic publishes no tokenizer for current Claude models, so this is an o200k_base estimate
 * with OpenAI's per-message wrapping; reconcile from `usage` after the response. With tools the
 * API adds a tool-use system prompt: 346 tokens on the Claude 4 family with `tool_choice` auto
 * (Anthropic's table; 313 for any/tool, a few hundred on other models).
 */
const TOOL_USE_SYSTEM_PROMPT = 346;

/** Anthropic Messages (`system`, `messages`, `tools`, `max_tokens`). Internal. */
export async function estimateAnthropicMessages(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  const { counter } = ctx;
  let input = await countContent(counter, body.system);
  if (Array.isArray(body.messages)) for (const message of body.messages) input += await countMessage(counter, message);
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    input += TOOL_USE_SYSTEM_PROMPT;
    for (const tool of body.tools) {
      // Only what the model reads: cache_control and other request plumbing are not prompt text.
      const definition = isObject(tool)
        ? { name: tool.name, description: tool.description, input_schema: tool.input_schema, type: tool.type }
        : tool;
      input += await counter.count(jsonText(definition));
    }
  }
  return { input, output: integerField(body, 'max_tokens') ?? ctx.reservation };
}
