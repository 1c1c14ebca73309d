import { describeValue } from '../internal/describe.js';
import { countContent, jsonText } from './content.js';
import { isObject } from '../internal/is-object.js';
import { resolveCountOptions } from './count.js';
import type { CountTokensOptions } from './count.js';
import { encodingForModel } from './encoding.js';
import { countWith } from './text-counter.js';
import type { TextCounter } from './text-counter.js';
import { countOpenAiTools } from './tools.js';

/**
 * A chat message as OpenAI's Chat Completions API takes it (Anthropic and most other chat APIs
 * fit too). Every string field counts, `content` may be a string or an array of parts, and other
 * fields such as `tool_calls` count as their JSON text.
 */
export interface ChatMessageLike {
  /** `system`, `developer`, `user`, `assistant`, `tool`…; counted as text. */
  readonly role: string;
  /** A string, an array of content parts, or `null` (an assistant turn with only tool calls). */
  readonly content?: unknown;
  /** A participant name; counted as text plus one token. */
  readonly name?: string | undefined;
}

/** Options of {@link countMessageTokens}. */
export interface CountMessageTokensOptions extends CountTokensOptions {
  /**
   * Tool (or legacy function) definitions sent with the messages; their prompt overhead is added
   * by the OpenAI cookbook's rule. @default no tools
   */
  readonly tools?: readonly unknown[] | undefined;
}

/*
 * The current OpenAI rule (gpt-3.5-turbo-0613 onwards, gpt-4, gpt-4o, and their successors): each
 * message is wrapped in 3 tokens (<|start|>{role}…<|message|>…<|end|>), a `name` costs 1 more, and
 * every reply is primed with 3 (<|start|>assistant<|message|>). Role and name strings count too.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

/** Tokens of one message, without reply priming. Internal. */
export async function countMessage(counter: TextCounter, message: unknown): Promise<number> {
  if (!isObject(message)) return TOKENS_PER_MESSAGE + (await countContent(counter, message));
  let tokens = TOKENS_PER_MESSAGE;
  for (const [key, value] of Object.entries(message)) {
    if (value === undefined || value === null) continue;
    if (key === 'name') tokens += TOKENS_PER_NAME;
    if (typeof value === 'string') tokens += await counter.count(value);
    else if (key === 'content' || key === 'parts') tokens += await countContent(counter, value);
    else tokens += await counter.count(jsonText(value)); // tool_calls, function_call, audio…
  }
  return tokens;
}

/** Tokens of a conversation plus reply priming and tool overhead. Internal. */
export async function countConversation(
  counter: TextCounter,
  model: string | undefined,
  messages: readonly unknown[],
  tools: readonly unknown[] | undefined,
): Promise<number> {
  let tokens = REPLY_PRIMING;
  for (const message of messages) tokens += await countMessage(counter, message);
  if (tools !== undefined) tokens += await countOpenAiTools(counter, encodingForModel(model), tools);
  return tokens;
}

/**
 * Counts the prompt tokens of a chat conversation as OpenAI's chat models bill them: the text of
 * every field plus 3 tokens a message, 1 a `name`, 3 for priming the reply, and the overhead of
 * `tools` when given. Content arrays count their text parts; images count 85 (`detail: "low"`) or
 * 765 (other details, size unknown: a 1024 × 1024 image); tool calls and tool results count as
 * their JSON text. For non-OpenAI models this is an o200k_base estimate. Messages may carry any
 * other fields (`tool_call_id`, `tool_calls`…): the type parameter keeps object literals with them
 * from being rejected, and SDK message types (OpenAI, Anthropic) are accepted as they are.
 *
 * @example
 * await countMessageTokens([{ role: 'user', content: 'Hello!' }], { model: 'gpt-4o' }); // 9
 */
export async function countMessageTokens<Message extends ChatMessageLike>(
  messages: readonly Message[],
  options: CountMessageTokensOptions = {},
): Promise<number> {
  if (!Array.isArray(messages))
    throw new TypeError(`Expected \`messages\` to be an array, got ${describeValue(messages)}`);
  const { model, mode, wait } = resolveCountOptions('countMessageTokens options', options, ['tools']);
  const tools = options.tools;
  if (tools !== undefined && !Array.isArray(tools)) {
    throw new TypeError(`Expected \`tools\` to be an array, got ${describeValue(tools)}`);
  }
  return countWith(model, mode, wait, (counter) => countConversation(counter, model, messages, tools));
}
