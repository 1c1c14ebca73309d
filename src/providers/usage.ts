import { describeValue } from '../internal/describe.js';
import { SseEventFilter } from './sse.js';
import type { UsageShape } from './provider-spec.js';
import { type ProviderName, providerSpec } from './types.js';
import { isObject } from '../internal/is-object.js';

/** Tokens a response says it used, in the terms rate limits charge them. */
export interface TokenUsage {
  /**
   * Input tokens as the provider's input limit counts them: OpenAI `prompt_tokens` /
   * `input_tokens` (cached tokens included); Anthropic `input_tokens + cache_creation_input_tokens`
   * (cache reads do not count toward Anthropic's ITPM); Gemini `promptTokenCount` plus tool-use
   * prompt tokens.
   */
  readonly input: number;
  /** Output tokens, reasoning included: `completion_tokens`, `output_tokens`, or Gemini's candidates + thoughts. */
  readonly output: number;
  /**
   * Prompt tokens read from a prompt cache (priced at the cached-input rate), when the response
   * reports any: OpenAI `cached_tokens` and Gemini `cachedContentTokenCount` (both part of
   * `input`); Anthropic `cache_read_input_tokens` (not part of `input`: its ITPM does not count them).
   */
  readonly cachedInput?: number;
}

/** `usage` with its cache reads, when there are any. */
function withCached(usage: TokenUsage, cached: unknown): TokenUsage {
  return isCount(cached) && cached > 0 ? { ...usage, cachedInput: cached } : usage;
}

function details(value: unknown): unknown {
  return isObject(value) ? value.cached_tokens : undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function count(value: unknown): number {
  return isCount(value) ? value : 0;
}

/** The usage fields `provider`'s answers carry (OpenAI's for a name not in the table). */
function usageShape(value: unknown): UsageShape {
  if (typeof value !== 'string')
    throw new TypeError(`Expected \`provider\` to be a string, got ${describeValue(value)}`);
  return providerSpec(value)?.usage ?? 'openai';
}

/** An OpenAI- or Anthropic-style `usage` object. */
function fromUsage(usage: unknown): TokenUsage | undefined {
  if (!isObject(usage)) return undefined;
  if (isCount(usage.prompt_tokens)) {
    const tokens = { input: usage.prompt_tokens, output: count(usage.completion_tokens) };
    return withCached(tokens, details(usage.prompt_tokens_details));
  }
  if (isCount(usage.input_tokens)) {
    // Anthropic reports cache writes apart from input_tokens and they count toward ITPM; OpenAI's
    // Responses usage has no such field, so the sum is its input_tokens.
    const tokens = {
      input: usage.input_tokens + count(usage.cache_creation_input_tokens),
      output: count(usage.output_tokens),
    };
    return withCached(tokens, usage.cache_read_input_tokens ?? details(usage.input_tokens_details));
  }
  return undefined;
}

function fromGemini(body: unknown): TokenUsage | undefined {
  if (Array.isArray(body)) {
    // A streamed JSON array: the last element carrying usage has the totals.
    for (let i = body.length - 1; i >= 0; i--) {
      const usage = fromGemini(body[i]);
      if (usage !== undefined) return usage;
    }
    return undefined;
  }
  if (!isObject(body)) return undefined;
  const meta = body.usageMetadata ?? body.usage_metadata;
  if (!isObject(meta) || !isCount(meta.promptTokenCount)) return undefined;
  const tokens = {
    input: meta.promptTokenCount + count(meta.toolUsePromptTokenCount),
    output: count(meta.candidatesTokenCount) + count(meta.thoughtsTokenCount),
  };
  return withCached(tokens, meta.cachedContentTokenCount);
}

/**
 * The usage a non-streamed response body reports, or `undefined` when it reports none:
 * - OpenAI chat completions (also Azure, Groq, Mistral, OpenAI-compatible servers):
 *   `usage.prompt_tokens` / `usage.completion_tokens`;
 * - OpenAI Responses: `usage.input_tokens` / `usage.output_tokens`;
 * - embeddings: `usage.prompt_tokens`, output 0;
 * - Anthropic: input `input_tokens + cache_creation_input_tokens` (not `cache_read_input_tokens`,
 *   which ITPM does not count), output `output_tokens`;
 * - Gemini: `usageMetadata` (`promptTokenCount`, `candidatesTokenCount` + `thoughtsTokenCount`).
 *
 * @param body The parsed JSON body.
 * @param provider The provider it came from.
 * @example
 * const usage = usageFromResponse(await res.json(), 'openai');
 * if (usage) lease.reconcile(usage); // { input, output }
 */
export function usageFromResponse(body: unknown, provider: ProviderName | (string & {})): TokenUsage | undefined {
  if (usageShape(provider) === 'gemini') return fromGemini(body);
  if (!isObject(body)) return undefined;
  return (
    fromUsage(body.usage) ?? (isObject(body.x_groq) ? fromUsage(body.x_groq.usage) : undefined) ?? fromGemini(body)
  );
}

/*
 * Only events whose data contains this can carry usage: every usage object has a key ending in
 * `_tokens` (Gemini: `TokenCount`). OpenAI chat chunks carry `"usage":null` until the last one,
 * so `"usage"` alone would parse every chunk.
 */
const USAGE_NEEDLE = '_tokens"';
const GEMINI_NEEDLE = 'TokenCount"';

/**
 * Watches a streamed (server-sent events) response for the usage it reports, chunk by chunk, so a
 * lease can be reconciled when the stream ends. Feed it every chunk in order, then call `end()`.
 *
 * - OpenAI chat completions: the final chunk when the request set
 *   `stream_options: { include_usage: true }` (`usage` with empty `choices`; Groq's `x_groq.usage`).
 * - OpenAI Responses: `response.completed` (also `incomplete`, `failed`) with `response.usage`.
 * - Anthropic: `message_start` gives input (`input_tokens + cache_creation_input_tokens`) and the
 *   first output count; each `message_delta` updates the cumulative `output_tokens` (and input,
 *   when it carries input fields).
 * - Gemini (`alt=sse`): the latest `usageMetadata`.
 *
 * It is built for the hot path: lines are split on bytes across arbitrary chunk boundaries (mid
 * line, mid character, CR LF split in two), each chunk is scanned once, and only events that can
 * hold usage are decoded and parsed.
 *
 * @example
 * const watcher = new StreamUsageWatcher('anthropic');
 * for await (const chunk of res.body) watcher.push(chunk);
 * watcher.end();
 * if (watcher.usage) lease.reconcile(watcher.usage);
 */
export class StreamUsageWatcher {
  readonly #events: SseEventFilter;
  readonly #reader: StreamUsageReader;

  /** @param provider The provider whose stream this is; decides which usage fields are read. */
  constructor(provider: ProviderName | (string & {})) {
    this.#reader = new StreamUsageReader(provider);
    this.#events = new SseEventFilter(this.#reader.needle, (data) => this.#reader.read(parseEvent(data)));
  }

  /** Feeds the next chunk of the response body. Keeps no reference to `chunk`. */
  push(chunk: Uint8Array): void {
    this.#events.push(chunk);
  }

  /** The stream has ended: reads a last event that was not closed by a blank line. Idempotent. */
  end(): void {
    this.#events.end();
  }

  /** The usage reported so far (final once the stream has ended), or `undefined` if none yet. */
  get usage(): TokenUsage | undefined {
    return this.#reader.usage;
  }
}

/** An event's data parsed as JSON, or `undefined` (`[DONE]` and anything else that is not JSON). Internal. */
export function parseEvent(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/**
 * Follows the usage a stream's parsed events report (the part of `StreamUsageWatcher` after the
 * events are read), for readers that parse each event once for several purposes. Internal.
 */
export class StreamUsageReader {
  readonly #gemini: boolean;
  #usage: TokenUsage | undefined;
  /** Anthropic: cache writes from `message_start`, kept when a later delta restates only input_tokens. */
  #cacheCreation = 0;

  constructor(provider: ProviderName | (string & {})) {
    this.#gemini = usageShape(provider) === 'gemini';
  }

  /** What the data of an event that can carry usage contains. */
  get needle(): string {
    return this.#gemini ? GEMINI_NEEDLE : USAGE_NEEDLE;
  }

  /** The usage reported so far, or `undefined` if none yet. */
  get usage(): TokenUsage | undefined {
    return this.#usage;
  }

  /** Reads one parsed event. */
  read(event: unknown): void {
    if (!isObject(event)) return;
    if (this.#gemini) {
      this.#usage = fromGemini(event) ?? this.#usage;
      return;
    }
    switch (event.type) {
      case 'message_start': {
        const usage = isObject(event.message) ? event.message.usage : undefined;
        if (isObject(usage)) this.#cacheCreation = count(usage.cache_creation_input_tokens);
        this.#usage = fromUsage(usage) ?? this.#usage;
        return;
      }
      case 'message_delta':
        this.#anthropicDelta(event.usage);
        return;
      default: {
        const usage =
          fromUsage(event.usage) ??
          (isObject(event.x_groq) ? fromUsage(event.x_groq.usage) : undefined) ??
          (isObject(event.response) ? fromUsage(event.response.usage) : undefined);
        if (usage !== undefined) this.#usage = usage;
      }
    }
  }

  #anthropicDelta(usage: unknown): void {
    if (!isObject(usage)) return;
    const previous = this.#usage ?? { input: 0, output: 0 };
    if (isCount(usage.cache_creation_input_tokens)) this.#cacheCreation = usage.cache_creation_input_tokens;
    const tokens = {
      input: isCount(usage.input_tokens) ? usage.input_tokens + this.#cacheCreation : previous.input,
      output: isCount(usage.output_tokens) ? usage.output_tokens : previous.output,
    };
    this.#usage = withCached(tokens, usage.cache_read_input_tokens ?? previous.cachedInput);
  }
}
