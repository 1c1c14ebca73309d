import { isObject, type JsonObject } from '../internal/is-object.js';
import { SseEventFilter } from './sse.js';
import { type StreamErrorInfo, streamErrorOf } from './stream-errors.js';
import type { ProviderName } from './types.js';
import { parseEvent, StreamUsageReader, type TokenUsage } from './usage.js';

/*
 * What the fetch wrapper needs to know of a streamed response as it passes: the usage it reports,
 * whether content (what the caller came for) has begun, and an error the provider reported
 * mid-stream. Until the first content every event is parsed; after it only events that can hold
 * usage or an error are (the hot path stays as cheap as the usage watcher alone).
 */

/** Anthropic and OpenAI Responses events that carry nothing the caller came for. */
const NOT_CONTENT: ReadonlySet<string> = new Set([
  'message_start',
  'ping',
  'response.created',
  'response.in_progress',
  'response.queued',
]);

function nonEmpty(value: unknown): boolean {
  if (typeof value === 'string') return value !== '';
  if (Array.isArray(value)) return value.length > 0;
  return isObject(value) && Object.keys(value).length > 0;
}

/** An Anthropic content block that says something: not an empty text or thinking block. */
function blockHasContent(block: unknown): boolean {
  if (!isObject(block)) return false;
  return Object.entries(block).some(([key, value]) => key !== 'type' && nonEmpty(value));
}

/** An OpenAI chat delta (or completion choice) with content, a tool call or reasoning. */
function choiceHasContent(choice: unknown): boolean {
  if (!isObject(choice)) return false;
  if (nonEmpty(choice.text)) return true; // completions
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.tool_calls) ||
    nonEmpty(delta.function_call) ||
    nonEmpty(delta.refusal) ||
    nonEmpty(delta.reasoning) ||
    nonEmpty(delta.reasoning_content) ||
    nonEmpty(delta.audio)
  );
}

/** True when the event carries something the caller came for (a token of text, a tool call, ...). */
export function isContentEvent(event: unknown): boolean {
  if (!isObject(event)) return false;
  const type = event.type;
  if (typeof type === 'string') {
    if (NOT_CONTENT.has(type)) return false;
    if (type === 'content_block_start') return blockHasContent(event.content_block);
    if (type.startsWith('response.') || type.startsWith('content_block_')) return true;
  }
  if (Array.isArray(event.choices)) return event.choices.some(choiceHasContent);
  if (Array.isArray(event.candidates)) {
    // Gemini: a candidate with parts.
    return event.candidates.some(
      (c: unknown) => isObject(c) && isObject(c.content) && nonEmpty((c.content as JsonObject).parts),
    );
  }
  return false;
}

/** Watches a server-sent-event stream for usage, the start of content and a mid-stream error. Internal. */
export class StreamEventWatcher {
  readonly #events: SseEventFilter;
  readonly #usage: StreamUsageReader;
  #content = false;
  #error: StreamErrorInfo | undefined;
  #contentBeforeError = false;
  #errorOffset = 0;

  constructor(provider: ProviderName | (string & {})) {
    this.#usage = new StreamUsageReader(provider);
    this.#events = new SseEventFilter([this.#usage.needle, '"error"'], (data, errorEvent, start) =>
      this.#onEvent(data, errorEvent, start),
    );
    this.#events.matchAll = true;
  }

  /** Feeds the next chunk. Once an error was read, later chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (this.#error === undefined) this.#events.push(chunk);
  }

  /** The stream has ended. Idempotent. */
  end(): void {
    this.#events.end();
  }

  /** The usage reported so far. */
  get usage(): TokenUsage | undefined {
    return this.#usage.usage;
  }

  /** True once an event with content was read (before any error). */
  get content(): boolean {
    return this.#content;
  }

  /** The error the stream reported, if it did. */
  get error(): StreamErrorInfo | undefined {
    return this.#error;
  }

  /** Whether content came before the error (possibly in the same chunk). */
  get contentBeforeError(): boolean {
    return this.#contentBeforeError;
  }

  /**
   * How many bytes of the chunk last pushed came before the error event: the rest is the error
   * (and what followed it). 0 when the error event began in an earlier chunk.
   */
  get errorOffset(): number {
    return this.#errorOffset;
  }

  #onEvent(data: string, errorEvent: boolean, start: number): void {
    if (this.#error !== undefined) return;
    const event = parseEvent(data);
    this.#usage.read(event);
    const error = streamErrorOf(event === undefined ? data : event, errorEvent);
    if (error !== undefined) {
      this.#error = error;
      this.#contentBeforeError = this.#content;
      this.#errorOffset = start;
      return;
    }
    if (!this.#content && isContentEvent(event)) {
      this.#content = true;
      this.#events.matchAll = false;
    }
  }
}
