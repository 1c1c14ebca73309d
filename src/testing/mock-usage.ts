import { isObject, type JsonObject as Json } from '../internal/is-object.js';
import { tallyPrompt } from './mock-counting.js';
import type { TokenAmounts } from './mock-limits.js';
import type { MockProvider } from './mock-options.js';
import { measurePrompt, type MockTokenizer } from './mock-tokenizer.js';

/** The endpoints the mock serves. */
export type MockEndpoint = 'chat' | 'responses' | 'embeddings' | 'messages';

/** What the mock needs to know about a request body to charge and answer it. */
export interface RequestPlan {
  readonly endpoint: MockEndpoint;
  readonly model: string;
  readonly stream: boolean;
  /** Choices to generate (`n`), 1 outside chat completions. */
  readonly choices: number;
  /** The up-front charge: prompt tokens plus the most output the request may produce. */
  readonly reserved: TokenAmounts;
  /** What the response will report and the charge is corrected to. */
  readonly actual: TokenAmounts;
  /** Output tokens per choice in the response. */
  readonly outputPerChoice: number;
  /** True when the output stops at the request's maximum (`finish_reason: "length"`). */
  readonly truncated: boolean;
  /** The text every choice answers with. */
  readonly text: string;
}

/** Options the plan depends on. */
export interface PlanOptions {
  readonly provider: MockProvider;
  readonly outputTokensPerResponse: number;
  readonly outputReservation: number;
  readonly tokenizer: MockTokenizer;
}

function positiveIntegerField(body: Json, ...names: string[]): number | undefined {
  for (const name of names) {
    const v = body[name];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  return undefined;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join(' ');
}

/** The last user turn's text, whichever API shape the body has. */
function lastUserText(endpoint: MockEndpoint, body: Json): string {
  if (endpoint === 'embeddings') return '';
  if (endpoint === 'responses' && typeof body.input === 'string') return body.input;
  const turns = endpoint === 'responses' ? body.input : body.messages;
  if (!Array.isArray(turns)) return '';
  for (let i = turns.length - 1; i >= 0; i--) {
    const turn: unknown = turns[i];
    if (isObject(turn) && turn.role === 'user') return textOf(turn.content);
  }
  return '';
}

/**
 * A deterministic reply of exactly `words` words, echoing the user's words in a cycle. The mock
 * reports `usage` by count, not by tokenizing this text: one word stands for one output token.
 */
export function replyText(userText: string, words: number): string {
  const source = userText
    .split(/\s+/)
    .filter((w) => w !== '')
    .slice(0, 50);
  const cycle = source.length > 0 ? source : ['ok'];
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(cycle[i % cycle.length] as string);
  return out.join(' ');
}

/** The most output one choice may produce: the body's maximum for its endpoint, if it names one. */
function maxOutputPerChoice(endpoint: MockEndpoint, body: Json): number | undefined {
  switch (endpoint) {
    case 'chat':
      // `max_completion_tokens` replaced `max_tokens`; when a body has both, the newer one governs.
      return positiveIntegerField(body, 'max_completion_tokens', 'max_tokens');
    case 'responses':
      return positiveIntegerField(body, 'max_output_tokens');
    case 'messages':
      return positiveIntegerField(body, 'max_tokens');
    case 'embeddings':
      return undefined;
  }
}

/** Prompt tokens by the mock's own rule (mock-counting.ts), measured by the `tokenizer` option. */
async function promptTokens(
  endpoint: MockEndpoint,
  body: Json,
  rawBody: string,
  tokenizer: MockTokenizer,
): Promise<number> {
  try {
    return await measurePrompt(tallyPrompt(endpoint, body), tokenizer);
  } catch {
    // A body the mock cannot walk (nested deeper than the stack) still gets a stable charge.
    return Math.ceil(Buffer.byteLength(rawBody, 'utf8') / 4);
  }
}

/**
 * Works out a request's charge and answer, counting on its own (mock-counting.ts), never with
 * forestall's estimator. Deterministic for the same body: the up-front charge is the prompt
 * tokens plus the most output the body allows, its maximum times `n`, or `outputReservation` per
 * choice when it names none; the actual output is `min(max output, outputTokensPerResponse)` per
 * choice.
 */
export async function planRequest(
  endpoint: MockEndpoint,
  body: Json,
  rawBody: string,
  options: PlanOptions,
): Promise<RequestPlan> {
  const fallbackModel = options.provider === 'anthropic' ? 'claude-mock' : 'gpt-4o-mini';
  const model = typeof body.model === 'string' && body.model !== '' ? body.model : fallbackModel;
  const stream = body.stream === true;
  const choices = endpoint === 'chat' ? (positiveIntegerField(body, 'n') ?? 1) : 1;
  const input = await promptTokens(endpoint, body, rawBody, options.tokenizer);

  if (endpoint === 'embeddings') {
    const none = { input, output: 0 };
    return {
      endpoint,
      model,
      stream: false,
      choices: 1,
      reserved: none,
      actual: none,
      outputPerChoice: 0,
      truncated: false,
      text: '',
    };
  }

  const maxPerChoice = maxOutputPerChoice(endpoint, body);
  const outputPerChoice = Math.min(maxPerChoice ?? Number.POSITIVE_INFINITY, options.outputTokensPerResponse);
  return {
    endpoint,
    model,
    stream,
    choices,
    reserved: { input, output: (maxPerChoice ?? options.outputReservation) * choices },
    actual: { input, output: outputPerChoice * choices },
    outputPerChoice,
    truncated: maxPerChoice !== undefined && maxPerChoice <= options.outputTokensPerResponse,
    text: replyText(lastUserText(endpoint, body), outputPerChoice),
  };
}
