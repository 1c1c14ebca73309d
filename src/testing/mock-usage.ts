import { isObject, type JsonObject as Json } from '../internal/is-object.js';
import { DEFAULT_OUTPUT_RESERVATION, estimateRequestTokens } from '../tokens/index.js';
import type { TokenAmounts } from './mock-limits.js';
import type { MockProvider } from './mock-options.js';

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
  readonly outputReservation: number | undefined;
  readonly tokenizer: 'tiktoken' | 'fast' | undefined;
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

const ESTIMATOR_API = {
  chat: 'chat',
  responses: 'responses',
  embeddings: 'embeddings',
  messages: 'anthropic-messages',
} as const satisfies Record<MockEndpoint, string>;

/**
 * The up-front charge: prompt tokens, and the most output the body allows (its maximum times `n`,
 * or the output reservation when it names none). The same estimator a forestall client uses, so a
 * client that budgets with it sees the same numbers.
 */
function estimate(endpoint: MockEndpoint, body: Json, options: PlanOptions): Promise<TokenAmounts> {
  // No `model` option: the estimator reads the body's own, exactly as a client estimating it would.
  return estimateRequestTokens(body, {
    provider: options.provider,
    api: ESTIMATOR_API[endpoint],
    ...(options.tokenizer ? { mode: options.tokenizer } : {}),
    ...(options.outputReservation !== undefined ? { outputReservation: options.outputReservation } : {}),
  });
}

/**
 * Works out a request's charge and answer. Deterministic for the same body: prompt tokens come
 * from the token estimator, output is `min(max output, outputTokensPerResponse)` per choice.
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

  let estimated: TokenAmounts;
  try {
    estimated = await estimate(endpoint, body, options);
  } catch {
    // A body the estimator chokes on still gets a stable charge: about four characters a token.
    estimated = {
      input: Math.ceil(rawBody.length / 4),
      output: (options.outputReservation ?? DEFAULT_OUTPUT_RESERVATION) * choices,
    };
  }

  const { input } = estimated;
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

  const maxPerChoice =
    endpoint === 'responses'
      ? positiveIntegerField(body, 'max_output_tokens')
      : endpoint === 'messages'
        ? positiveIntegerField(body, 'max_tokens')
        : positiveIntegerField(body, 'max_completion_tokens', 'max_tokens');
  const outputPerChoice = Math.min(maxPerChoice ?? Number.POSITIVE_INFINITY, options.outputTokensPerResponse);
  return {
    endpoint,
    model,
    stream,
    choices,
    reserved: estimated,
    actual: { input, output: outputPerChoice * choices },
    outputPerChoice,
    truncated: maxPerChoice !== undefined && maxPerChoice <= options.outputTokensPerResponse,
    text: replyText(lastUserText(endpoint, body), outputPerChoice),
  };
}
