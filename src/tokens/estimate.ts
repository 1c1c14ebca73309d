import { describeValue } from '../internal/describe.js';
import { knownKeys, nonNegativeInteger, plainObject } from '../internal/validate.js';
import { type ProviderName, providerSpec } from '../providers/types.js';
import { estimateAnthropicMessages } from './anthropic-request.js';
import { jsonText } from './content.js';
import type { JsonObject } from '../internal/is-object.js';
import { estimateGemini } from './gemini-request.js';
import { estimateChat, estimateCompletions, estimateEmbeddings, estimateResponses } from './openai-request.js';
import type { EstimateContext, RequestTokenEstimate } from './estimate-context.js';
import { isTokenIds } from './request-fields.js';
import { countEarly, countMode, countWith, optionalString, waitOption } from './text-counter.js';
import type { CountRun, EarlyCount, TokenCountMode } from './text-counter.js';

/**
 * The request shapes {@link estimateRequestTokens} knows:
 * - `chat`: Chat Completions (`messages`), also Azure, Groq, Mistral and OpenAI-compatible servers;
 * - `responses`: the Responses API (`input`, `instructions`);
 * - `embeddings`: `input` as text, texts, or token ids;
 * - `completions`: legacy completions (`prompt`);
 * - `anthropic-messages`: Anthropic Messages (`system`, `messages`);
 * - `gemini`: Gemini `generateContent` (`contents`).
 */
export type RequestApi = 'chat' | 'responses' | 'embeddings' | 'completions' | 'anthropic-messages' | 'gemini';

const REQUEST_APIS: readonly RequestApi[] = [
  'chat',
  'responses',
  'embeddings',
  'completions',
  'anthropic-messages',
  'gemini',
];

/**
 * Output tokens assumed per generation when a request names no maximum. OpenAI and Azure reserve
 * the request's maximum against the token budget; without one, the real output is unknown until
 * the response, and reconcile corrects the charge then.
 */
export const DEFAULT_OUTPUT_RESERVATION = 1_024;

/** Options of {@link estimateRequestTokens}. */
export interface EstimateRequestTokensOptions {
  /** Whose API the body is for: decides the request shape unless `api` is given. */
  readonly provider: ProviderName | (string & {});
  /** The model whose encoding counts the text. @default the body's `model` field */
  readonly model?: string | undefined;
  /**
   * Output tokens to assume per generation when the body names no maximum (`max_tokens`,
   * `max_completion_tokens`, `max_output_tokens`, `maxOutputTokens`). Multiplied by `n` for chat.
   * @default 1024 ({@link DEFAULT_OUTPUT_RESERVATION})
   */
  readonly outputReservation?: number | undefined;
  /** `tiktoken` counts with the real encoding; `fast` estimates without loading it. @default 'tiktoken' */
  readonly mode?: TokenCountMode | undefined;
  /**
   * The request shape, when the caller knows it (e.g. from the URL path). Otherwise it is detected:
   * Anthropic bodies are `anthropic-messages`, Gemini bodies with `contents` are `gemini`; then
   * `messages` means `chat`, `prompt` means `completions`, and `input` means `embeddings` when the
   * model name contains "embed", the body has `encoding_format` or `dimensions`, or the input is
   * token ids, and `responses` otherwise. @default detected from the provider and the body
   */
  readonly api?: RequestApi | undefined;
  /**
   * In `tiktoken` mode, whether to wait for the tokenizer when it has not loaded yet (0.6-1 s the
   * first time, in a worker thread: waiting never blocks the event loop). `false` resolves at once
   * while it loads: the input is then counted with the fast estimate (`estimateTokensFast`), and
   * exactly once the tokenizer is ready. What a rate-limited request path wants: the first request
   * of a process goes out without a second's delay, its charge a few percent high. @default true
   */
  readonly wait?: boolean | undefined;
}

const OPTION_KEYS = ['provider', 'model', 'outputReservation', 'mode', 'api', 'wait'] as const;

function detectApi(provider: string, body: JsonObject, model: string | undefined): RequestApi | undefined {
  const shape = providerSpec(provider)?.requestShape;
  if (shape !== undefined) return shape;
  if (Array.isArray(body.contents)) return 'gemini';
  if (Array.isArray(body.messages)) return 'chat';
  if (body.prompt !== undefined) return 'completions';
  if (body.input !== undefined) {
    const input = body.input;
    const tokenIds = isTokenIds(input) || (Array.isArray(input) && input.length > 0 && input.every(isTokenIds));
    const embeddingModel = model?.toLowerCase().includes('embed');
    if (tokenIds || embeddingModel || body.encoding_format !== undefined || body.dimensions !== undefined)
      return 'embeddings';
    return 'responses';
  }
  if (typeof body.instructions === 'string') return 'responses';
  return undefined;
}

function requestApi(value: unknown): RequestApi | undefined {
  if (value === undefined || REQUEST_APIS.includes(value as RequestApi)) return value as RequestApi | undefined;
  const message = `Expected \`api\` to be one of ${REQUEST_APIS.map((a) => `"${a}"`).join(', ')}, got ${describeValue(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

/**
 * Estimates what a request will cost before it is sent: `input` is its prompt tokens, `output` the
 * most it may generate (`max_completion_tokens` ?? `max_tokens` times `n` for chat,
 * `max_output_tokens` for Responses, 0 for embeddings, `max_tokens` (default 16) times
 * `max(n, best_of)` per prompt for legacy completions, `max_tokens` for Anthropic), or
 * `outputReservation` per generation when the body names no maximum. Hand the sum to
 * `limiter.acquire({ tokens })` and reconcile with the response's usage.
 *
 * Prompt tokens follow OpenAI's chat rule (see `countMessageTokens`); for Anthropic, Gemini and
 * other vendors they are an o200k_base estimate.
 *
 * @throws {TypeError} when `body` is not an object or an option has the wrong type.
 * @throws {RangeError} when `outputReservation` is negative or not whole, or `mode`/`api` is unknown.
 */
export async function estimateRequestTokens(
  body: unknown,
  options: EstimateRequestTokensOptions,
): Promise<RequestTokenEstimate> {
  const { model, mode, wait, run } = prepareEstimate(body, options);
  return countWith(model, mode, wait, run);
}

/**
 * `estimateRequestTokens(body, { ...options, wait: false })` as an upper bound at once (while the
 * tokenizer worker counts) and the estimate when it comes: the fetch wrapper admits a request at
 * the bound when there is room for it, and lowers the charge to the estimate on arrival. The
 * estimate falls back to `fallback` should counting fail. Internal.
 */
export async function estimateRequestTokensEarly(
  body: unknown,
  options: Omit<EstimateRequestTokensOptions, 'wait'>,
  fallback: () => RequestTokenEstimate,
): Promise<EarlyCount<RequestTokenEstimate>> {
  const { model, mode, run } = prepareEstimate(body, options);
  return countEarly(model, mode, run, fallback);
}

/** Validates the body and the options, and returns the count to run. */
function prepareEstimate(body: unknown, options: EstimateRequestTokensOptions) {
  const o = plainObject('options', options);
  knownKeys('estimateRequestTokens options', o, OPTION_KEYS);
  if (typeof o.provider !== 'string')
    throw new TypeError(`Expected \`provider\` to be a string, got ${describeValue(o.provider)}`);
  const provider = o.provider;
  const request = plainObject('body', body);
  const reservation =
    o.outputReservation === undefined
      ? DEFAULT_OUTPUT_RESERVATION
      : nonNegativeInteger('outputReservation', o.outputReservation);
  const mode = countMode('mode', o.mode);
  const forcedApi = requestApi(o.api);
  const model =
    optionalString('model', o.model) ??
    (typeof request.model === 'string' && request.model !== '' ? request.model : undefined);

  const wait = waitOption('wait', o.wait);
  const api = forcedApi ?? detectApi(provider, request, model);
  const run: CountRun<RequestTokenEstimate> = (counter) => estimateShape(api, request, { counter, model, reservation });
  return { model, mode, wait, run };
}

async function estimateShape(
  api: RequestApi | undefined,
  request: JsonObject,
  ctx: EstimateContext,
): Promise<RequestTokenEstimate> {
  switch (api) {
    case 'chat':
      return estimateChat(request, ctx);
    case 'responses':
      return estimateResponses(request, ctx);
    case 'embeddings':
      return estimateEmbeddings(request, ctx);
    case 'completions':
      return estimateCompletions(request, ctx);
    case 'anthropic-messages':
      return estimateAnthropicMessages(request, ctx);
    case 'gemini':
      return estimateGemini(request, ctx);
    case undefined: {
      // An unknown shape still costs something: its JSON text, minus the model name.
      const rest: JsonObject = { ...request };
      delete rest.model;
      return { input: await ctx.counter.count(jsonText(rest)), output: ctx.reservation };
    }
  }
}
