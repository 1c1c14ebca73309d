import { redactString } from '../internal/redact.js';
import { readLines } from './lines.js';
import { isObject } from '../internal/is-object.js';

/** One request of a batch input file, checked. */
export interface BatchRequest {
  readonly customId: string;
  /** The path (and query) to send it to, e.g. `/v1/chat/completions`. */
  readonly url: string;
  /** The JSON body, as an object. */
  readonly body: Record<string, unknown>;
  /** Its line in the input file, from 1. */
  readonly line: number;
}

/** What one input line holds: a request, nothing (a blank line), or why it cannot be sent. */
export type ParsedLine =
  | { readonly kind: 'request'; readonly request: BatchRequest }
  | { readonly kind: 'blank' }
  | { readonly kind: 'bad'; readonly reason: string };

/** A line that was skipped, and why. */
export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

/** What a first read of the input found. */
export interface InputScan {
  /** Each usable request's `custom_id`, with the line it is on (the first, when repeated). */
  readonly ids: ReadonlyMap<string, number>;
  readonly bad: readonly BadLine[];
  /** The first request's `body.model`, to load the right tokenizer before starting. */
  readonly firstModel: string | undefined;
}

/**
 * Checks one line of an OpenAI Batch API input file:
 * `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
 * `method` may be left out (it can only be POST); `url` must be a path, never a full URL, so a
 * line cannot send the API key to another host.
 */
export function parseRequestLine(text: string, line: number): ParsedLine {
  if (text.trim() === '') return { kind: 'blank' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'bad', reason: `not valid JSON (${redactString((error as Error).message)})` };
  }
  if (!isObject(json)) return { kind: 'bad', reason: 'not a JSON object' };
  const { custom_id: customId, method, url, body } = json;
  if (typeof customId !== 'string' || customId === '')
    return { kind: 'bad', reason: 'no "custom_id" (a non-empty string)' };
  if (method !== undefined && (typeof method !== 'string' || method.toUpperCase() !== 'POST')) {
    return { kind: 'bad', reason: `"method" must be "POST", got ${JSON.stringify(method)}` };
  }
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) {
    return { kind: 'bad', reason: 'no "url" path (such as "/v1/chat/completions")' };
  }
  if (!isObject(body)) return { kind: 'bad', reason: 'no "body" object' };
  return { kind: 'request', request: { customId, url, body, line } };
}

/**
 * Reads the whole input once: finds the bad lines (repeated `custom_id`s included: the first
 * occurrence is used) and the ids, holding only the ids in memory.
 */
export async function scanInput(path: string): Promise<InputScan> {
  const ids = new Map<string, number>();
  const bad: BadLine[] = [];
  let firstModel: string | undefined;
  for await (const { text, number } of readLines(path)) {
    const parsed = parseRequestLine(text, number);
    if (parsed.kind === 'blank') continue;
    if (parsed.kind === 'bad') {
      bad.push({ line: number, reason: parsed.reason });
      continue;
    }
    const { customId, body } = parsed.request;
    const first = ids.get(customId);
    if (first !== undefined) {
      bad.push({ line: number, reason: `"custom_id" ${JSON.stringify(customId)} repeats line ${first}` });
      continue;
    }
    ids.set(customId, number);
    if (firstModel === undefined && typeof body.model === 'string') firstModel = body.model;
  }
  return { ids, bad, firstModel };
}

/**
 * Reads the input again, lazily, yielding the requests still to send: usable (as `scan` found),
 * and not among `done`.
 */
export async function* pendingRequests(
  path: string,
  ids: ReadonlyMap<string, number>,
  done: ReadonlySet<string>,
): AsyncGenerator<BatchRequest, void, undefined> {
  for await (const { text, number } of readLines(path)) {
    const parsed = parseRequestLine(text, number);
    if (parsed.kind !== 'request') continue;
    const { customId } = parsed.request;
    if (ids.get(customId) !== number || done.has(customId)) continue;
    yield parsed.request;
  }
}
