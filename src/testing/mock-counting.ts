import { isObject, type JsonObject as Json } from '../internal/is-object.js';
import type { MockEndpoint } from './mock-usage.js';

/*
 * The mock's own prompt count. It never asks forestall's estimator (src/tokens): a client and a
 * server that count with the same code agree by construction, and then no test against the mock
 * could catch a client that under-counts. The rule, in full:
 *
 *   prompt tokens = text tokens + 4 per message + 3 for the reply + fixed charges
 *
 * - Text: every string in a message (content, the text of content parts, `name`, tool calls' names
 *   and arguments, tool results, thinking), except roles, `type` tags, ids, `status`,
 *   `cache_control` and opaque payloads (`data`, `signature`, `encrypted_content`); a tool call's
 *   `input` object as its JSON text. A function tool counts its name, its description and the JSON
 *   text of its schema (`parameters`, `input_schema`), another tool its JSON text (both without
 *   `cache_control`); a `json_schema` response format its schema's JSON text. Embeddings: the
 *   input strings.
 * - Messages: each chat message, each Responses `input` item (a string `input` is one), Responses
 *   `instructions` and each Anthropic message cost 4 (<|start|>, the role, <|message|>, <|end|>);
 *   the reply is primed with 3, once per request. Anthropic's `system` is text that opens the
 *   prompt, not a turn: no wrapper. (Anthropic's count_tokens is reported to give 10 for one user
 *   message "Hello, world": its 3 tokens of text + 4 + 3.) Embeddings have neither.
 * - Fixed: images 765 (OpenAI, a 1024 x 1024 picture: 85 + 4 tiles x 170), 85 with
 *   `detail: "low"`, 1,398 on Anthropic (1024 x 1024 / 750); audio, files and documents the mock
 *   cannot read 1,024 each; token ids one each; Anthropic tools add their tool-use system prompt,
 *   346 (313 when `tool_choice` is `any` or `tool`), as Anthropic's table gives for Claude 4.
 * - Text tokens are measured by the `tokenizer` option (mock-tokenizer.ts).
 */

/** Wrapper of one message, item or `instructions`: <|start|>, role, <|message|>, <|end|>. */
const MOCK_TOKENS_PER_MESSAGE = 4;
/** Priming of the reply (<|start|>assistant<|message|>), once per request. */
const MOCK_REPLY_PRIMING = 3;
/** An OpenAI image of high or auto detail, size unknown: 1024 x 1024 is scaled to 768, 4 tiles. */
const IMAGE_TOKENS = 85 + 4 * 170;
/** An OpenAI image with `detail: "low"`, whatever its size. */
const LOW_DETAIL_IMAGE_TOKENS = 85;
/** An Anthropic image, size unknown: width x height / 750 for 1024 x 1024. */
const ANTHROPIC_IMAGE_TOKENS = 1_398;
/** Audio, a file or a document the mock does not decode. */
const FILE_TOKENS = 1_024;
/** Anthropic's tool-use system prompt (Claude 4 family): `tool_choice` auto or none, and any or tool. */
const ANTHROPIC_TOOL_PROMPT = 346;
const ANTHROPIC_FORCED_TOOL_PROMPT = 313;

/** Keys whose values are plumbing, not prompt text. */
const NOT_TEXT = new Set([
  'role',
  'type',
  'id',
  'call_id',
  'tool_call_id',
  'tool_use_id',
  'status',
  'cache_control',
  'data',
  'signature',
  'encrypted_content',
]);

/** What a prompt consists of: texts still to measure, and tokens that need no measuring. */
export interface PromptTally {
  readonly texts: string[];
  tokens: number;
}

function json(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (key === 'cache_control' ? undefined : v)) ?? '';
}

function isTokenIds(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');
}

/** Adds a media part's fixed charge (or a text document's text); false when `part` is no media. */
function addMedia(tally: PromptTally, part: Json): boolean {
  switch (part.type) {
    case 'image_url':
      tally.tokens +=
        isObject(part.image_url) && part.image_url.detail === 'low' ? LOW_DETAIL_IMAGE_TOKENS : IMAGE_TOKENS;
      return true;
    case 'input_image':
      tally.tokens += part.detail === 'low' ? LOW_DETAIL_IMAGE_TOKENS : IMAGE_TOKENS;
      return true;
    case 'image':
      tally.tokens += ANTHROPIC_IMAGE_TOKENS;
      return true;
    case 'input_audio':
    case 'file':
    case 'input_file':
      tally.tokens += FILE_TOKENS;
      return true;
    case 'document': {
      const source = isObject(part.source) ? part.source : {};
      if (source.type === 'text' && typeof source.data === 'string') tally.texts.push(source.data);
      else if (source.type === 'content') addContent(tally, source.content);
      else tally.tokens += FILE_TOKENS;
      return true;
    }
    default:
      return false;
  }
}

/** Adds the text of any message, part or value, by the rule above. */
function addContent(tally: PromptTally, value: unknown): void {
  if (typeof value === 'string') tally.texts.push(value);
  else if (Array.isArray(value)) for (const item of value) addContent(tally, item);
  else if (isObject(value) && !addMedia(tally, value)) {
    for (const [key, field] of Object.entries(value)) {
      if (NOT_TEXT.has(key)) continue;
      if (key === 'input' && isObject(field)) tally.texts.push(json(field));
      else addContent(tally, field);
    }
  }
}

function addMessage(tally: PromptTally, message: unknown): void {
  tally.tokens += MOCK_TOKENS_PER_MESSAGE;
  addContent(tally, message);
}

/**
 * A function tool (chat's `{ function }`, the Responses API's flat shape, Anthropic's) as its name
 * and description and the JSON text of its schema; any other tool as its JSON text.
 */
function addTools(tally: PromptTally, tools: readonly unknown[]): void {
  for (const tool of tools) {
    const fn = isObject(tool) && isObject(tool.function) ? tool.function : tool;
    if (!isObject(fn) || typeof fn.name !== 'string') {
      tally.texts.push(json(tool));
      continue;
    }
    tally.texts.push(fn.name);
    if (typeof fn.description === 'string') tally.texts.push(fn.description);
    const schema = fn.parameters ?? fn.input_schema;
    if (schema !== undefined) tally.texts.push(json(schema));
  }
}

function addSchema(tally: PromptTally, format: unknown): void {
  if (isObject(format) && format.type === 'json_schema') tally.texts.push(json(format.json_schema ?? format.schema));
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function tallyEmbeddings(tally: PromptTally, input: unknown): void {
  if (isTokenIds(input)) tally.tokens += input.length;
  else if (typeof input === 'string') tally.texts.push(input);
  else
    for (const item of list(input)) {
      if (typeof item === 'string') tally.texts.push(item);
      else if (Array.isArray(item)) tally.tokens += item.length;
      else tally.texts.push(json(item));
    }
}

/** The parts of a request's prompt, whichever endpoint's body it is. */
export function tallyPrompt(endpoint: MockEndpoint, body: Json): PromptTally {
  const tally: PromptTally = { texts: [], tokens: 0 };
  if (endpoint === 'embeddings') {
    tallyEmbeddings(tally, body.input);
    return tally;
  }
  tally.tokens += MOCK_REPLY_PRIMING;
  if (endpoint === 'chat') {
    for (const message of list(body.messages)) addMessage(tally, message);
    addTools(tally, list(Array.isArray(body.tools) ? body.tools : body.functions));
    addSchema(tally, body.response_format);
  } else if (endpoint === 'responses') {
    if (body.instructions !== undefined && body.instructions !== null) addMessage(tally, body.instructions);
    if (typeof body.input === 'string') addMessage(tally, body.input);
    else for (const item of list(body.input)) addMessage(tally, item);
    addTools(tally, list(body.tools));
    if (isObject(body.text)) addSchema(tally, body.text.format);
  } else {
    addContent(tally, body.system);
    for (const message of list(body.messages)) addMessage(tally, message);
    if (Array.isArray(body.tools) && body.tools.length > 0) {
      const choice = isObject(body.tool_choice) ? body.tool_choice.type : undefined;
      tally.tokens += choice === 'any' || choice === 'tool' ? ANTHROPIC_FORCED_TOOL_PROMPT : ANTHROPIC_TOOL_PROMPT;
      addTools(tally, body.tools);
    }
  }
  return tally;
}
