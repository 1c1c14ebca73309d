import { countContent, jsonText } from './content.js';
import { isObject } from '../internal/is-object.js';
import type { JsonObject } from '../internal/is-object.js';
import { countConversation, countMessage } from './messages.js';
import { encodingForModel } from './encoding.js';
import type { EstimateContext, RequestTokenEstimate } from './estimate-context.js';
import { integerField, isTokenIds } from './request-fields.js';
import type { TextCounter } from './text-counter.js';
import { countOpenAiTools } from './tools.js';

/** The reply priming the Responses API adds, like chat completions. */
const REPLY_PRIMING = 3;
/** The chat wrapper of one Responses API item that is not a message (function call, output). */
const TOKENS_PER_ITEM = 3;
/** The legacy completions API's `max_tokens` when the body leaves it out. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

async function structuredOutputTokens(counter: TextCounter, format: unknown): Promise<number> {
  // A JSON schema for structured outputs is rendered into the prompt; its JSON text is a fair size.
  return isObject(format) && format.type === 'json_schema'
    ? counter.count(jsonText(format.json_schema ?? format.schema ?? format))
    : 0;
}

/** Chat Completions (also Azure, Groq, Mistral and OpenAI-compatible servers). Internal. */
export async function estimateChat(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const tools = Array.isArray(body.tools) ? body.tools : Array.isArray(body.functions) ? body.functions : undefined;
  const input =
    (await countConversation(ctx.counter, ctx.model, messages, tools)) +
    (await structuredOutputTokens(ctx.counter, body.response_format));
  // `max_completion_tokens` replaced `max_tokens`; when a body has both, the newer one governs.
  const perChoice = integerField(body, 'max_completion_tokens') ?? integerField(body, 'max_tokens') ?? ctx.reservation;
  return { input, output: perChoice * (integerField(body, 'n', 1) ?? 1) };
}

async function countResponsesItem(counter: TextCounter, item: unknown): Promise<number> {
  if (typeof item === 'string' || !isObject(item)) return TOKENS_PER_ITEM + (await countContent(counter, item));
  if (typeof item.role === 'string') return countMessage(counter, { role: item.role, content: item.content });
  switch (item.type) {
    case 'function_call':
    case 'custom_tool_call':
      return (
        TOKENS_PER_ITEM +
        (await counter.count(typeof item.name === 'string' ? item.name : '')) +
        (await counter.count(
          typeof item.arguments === 'string'
            ? item.arguments
            : typeof item.input === 'string'
              ? item.input
              : jsonText(item.arguments ?? item.input),
        ))
      );
    case 'function_call_output':
    case 'custom_tool_call_output':
      return TOKENS_PER_ITEM + (await countContent(counter, item.output));
    case 'reasoning': {
      // Only the readable summary is ours to count; encrypted content is opaque.
      const summary = Array.isArray(item.summary) ? item.summary : [];
      return TOKENS_PER_ITEM + (await countContent(counter, summary));
    }
    case 'item_reference':
      return 0; // stored server-side; nothing to measure here
    default:
      return TOKENS_PER_ITEM + (await counter.count(jsonText(item)));
  }
}

/** The Responses API (`input`, `instructions`, `max_output_tokens`). Internal. */
export async function estimateResponses(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  const { counter } = ctx;
  let input = REPLY_PRIMING;
  if (typeof body.instructions === 'string')
    input += await countMessage(counter, { role: 'developer', content: body.instructions });
  if (typeof body.input === 'string') input += await countMessage(counter, { role: 'user', content: body.input });
  else if (Array.isArray(body.input)) for (const item of body.input) input += await countResponsesItem(counter, item);
  if (Array.isArray(body.tools)) input += await countOpenAiTools(counter, encodingForModel(ctx.model), body.tools);
  if (isObject(body.text)) input += await structuredOutputTokens(counter, body.text.format);
  return { input, output: integerField(body, 'max_output_tokens') ?? ctx.reservation };
}

/**
 * Tokens of an embeddings `input` or completions `prompt`: a string, an array of strings, one
 * array of token ids, or an array of token-id arrays (already tokens: counted exactly).
 */
async function countTexts(counter: TextCounter, value: unknown): Promise<{ tokens: number; texts: number }> {
  if (typeof value === 'string') return { tokens: await counter.count(value), texts: 1 };
  if (isTokenIds(value)) return { tokens: value.length, texts: 1 };
  if (!Array.isArray(value))
    return { tokens: value === undefined ? 0 : await counter.count(jsonText(value)), texts: 1 };
  let tokens = 0;
  for (const item of value) {
    if (typeof item === 'string') tokens += await counter.count(item);
    else if (Array.isArray(item)) tokens += item.length;
    else tokens += await counter.count(jsonText(item));
  }
  return { tokens, texts: Math.max(1, value.length) };
}

/** Embeddings: input only, no output. Internal. */
export async function estimateEmbeddings(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  return { input: (await countTexts(ctx.counter, body.input)).tokens, output: 0 };
}

/** Legacy completions (`prompt`, `max_tokens` defaulting to 16, `n`, `best_of`). Internal. */
export async function estimateCompletions(body: JsonObject, ctx: EstimateContext): Promise<RequestTokenEstimate> {
  const prompt = await countTexts(ctx.counter, body.prompt);
  const suffix = typeof body.suffix === 'string' ? await ctx.counter.count(body.suffix) : 0;
  // The API stops at 16 tokens when `max_tokens` is absent, so that, not a reservation, is the most
  // a choice can cost. It generates `best_of` candidates server-side, `n` per prompt.
  const perChoice = integerField(body, 'max_tokens') ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
  const choices = Math.max(integerField(body, 'n', 1) ?? 1, integerField(body, 'best_of', 1) ?? 1);
  return { input: prompt.tokens + suffix, output: perChoice * choices * prompt.texts };
}
