import { abortable } from './abortable.js';

/*
 * A request's body, read once before the first attempt: its text is what the estimate counts, and
 * a body fetch can send only once (a `Request`'s, a `ReadableStream`, an async iterable) is kept
 * as bytes, so every attempt, retries included, sends the same bytes.
 */

/** What a request sent to another model changes (see `PreparedRequest.changed`). */
export interface RequestChange {
  /** Another URL (the model in its path: Gemini, Azure); a `Request`'s settings are kept. */
  readonly url?: string | undefined;
  /** Another body text, sent as the body was (a string, bytes, a `Blob` of the same type). */
  readonly text?: string | undefined;
}

/** A request ready to be sent any number of times. */
export interface PreparedRequest {
  /** The body as text, for the estimate; `undefined` when there is none or it is not text. */
  readonly text: string | undefined;
  /** The arguments of one attempt's fetch, with the attempt's `signal` when given. */
  args(signal: AbortSignal | undefined): [input: string | URL | Request, init: RequestInit | undefined];
  /** Whether `text` is the whole body, so that `changed({ text })` can send another in its place. */
  readonly textIsBody: boolean;
  /**
   * The same request with another URL or body text. Undefined when a text is asked for and the
   * body is not its text (a form or a query, whose JSON is only one part).
   */
  changed(change: RequestChange): PreparedRequest | undefined;
}

/** Form parts read when looking for a JSON body in a form: larger ones are files, not requests. */
const MAX_FORM_PART_BYTES = 1_048_576;

const decoder = new TextDecoder();

function isStreamBody(body: unknown): body is ReadableStream<unknown> | AsyncIterable<unknown> {
  return (
    body instanceof ReadableStream ||
    (typeof body === 'object' &&
      body !== null &&
      typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function')
  );
}

function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // What fetch itself refuses in a streamed body.
  throw new TypeError('Received non-Uint8Array chunk');
}

/** Reads a streamed body to its end; an abort cancels the stream and rejects with the reason. */
async function readAll(
  body: ReadableStream<unknown> | AsyncIterable<unknown>,
  signal?: AbortSignal,
): Promise<Uint8Array<ArrayBuffer>> {
  // fetch takes an async iterable too; a Response turns it into a stream.
  const stream =
    body instanceof ReadableStream ? body : (new Response(body as unknown as BodyInit).body as ReadableStream<unknown>);
  const reader = stream.getReader();
  const onAbort = (): void => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (signal?.aborted) throw signal.reason;
      if (done) break;
      const chunk = bytesOf(value);
      chunks.push(chunk);
      size += chunk.byteLength;
    }
  } catch (error) {
    reader.cancel(error).catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** The first value that is a JSON object: a form or query that carries the request as JSON. */
function firstJsonObject(values: Iterable<string>): string | undefined {
  for (const value of values) {
    if (!value.trimStart().startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return value;
    } catch {
      // Not JSON: the next value may be.
    }
  }
  return undefined;
}

/** The text of a form's JSON part (a string field, or a small text or JSON file). */
async function formJson(form: FormData): Promise<string | undefined> {
  const parts: (string | Promise<string>)[] = [];
  form.forEach((value) => {
    if (typeof value === 'string') parts.push(value);
    else if (value.size <= MAX_FORM_PART_BYTES && /^$|json|^text\//i.test(value.type)) parts.push(value.text());
  });
  return firstJsonObject(await Promise.all(parts));
}

/** The text of a body fetch can send again (a string, bytes, a `Blob`, a form or a query). */
async function textOf(body: BodyInit): Promise<string | undefined> {
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return decoder.decode(new Uint8Array(body));
  if (ArrayBuffer.isView(body)) return decoder.decode(body);
  if (body instanceof Blob) return body.text();
  if (body instanceof URLSearchParams) return firstJsonObject(body.values()) ?? body.toString();
  if (body instanceof FormData) return formJson(body);
  return undefined;
}

function withSignal(init: RequestInit | undefined, signal: AbortSignal | undefined): RequestInit | undefined {
  return signal === undefined ? init : { ...init, signal };
}

const encoder = new TextEncoder();
const asBytes = (text: string): BodyInit => encoder.encode(text);

/** How a new text is sent in place of a body that is that text; undefined for one that is not. */
function textBody(body: BodyInit): ((text: string) => BodyInit) | undefined {
  if (typeof body === 'string') return (text) => text;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return asBytes;
  if (body instanceof Blob) return (text) => new Blob([text], { type: body.type });
  return undefined;
}

/** The settings of a `Request` as an init, for the same request to another URL. */
function settingsOf(request: Request): RequestInit {
  const { method, headers, redirect, integrity, keepalive, credentials, cache, referrerPolicy, signal } = request;
  return { method, headers, redirect, integrity, keepalive, credentials, cache, referrerPolicy, signal };
}

/**
 * A request sent as `input` and `init`, or, with `rebuild`, as a new `Request` made of both (a
 * `Request` whose body was read); `asBody` sends another text in place of its body.
 */
function prepared(
  text: string | undefined,
  input: string | URL | Request,
  init: RequestInit | undefined,
  asBody: ((text: string) => BodyInit) | undefined,
  rebuild = false,
): PreparedRequest {
  return {
    text,
    textIsBody: text !== undefined && asBody !== undefined,
    args: (s) =>
      rebuild
        ? [new Request(input, { ...init, ...(s !== undefined && { signal: s }) }), undefined]
        : [input, withSignal(init, s)],
    changed: (change) => {
      if (change.text !== undefined && asBody === undefined) return undefined;
      const sent = change.text === undefined || asBody === undefined ? init : { ...init, body: asBody(change.text) };
      const newText = change.text ?? text;
      if (change.url === undefined) return prepared(newText, input, sent, asBody, rebuild);
      // Another URL: what the `Request` carried travels in the init.
      const moved = input instanceof Request ? { ...settingsOf(input), ...sent } : sent;
      return prepared(newText, change.url, moved, asBody);
    },
  };
}

/**
 * Reads the body of a request once: its text for the estimate, and, when fetch could send it only
 * once (a `Request` given as input, a `ReadableStream` or async iterable `init.body`), its bytes,
 * sent on every attempt in its place (a `Request`'s method, headers, signal and other settings are
 * kept). A form or query is estimated from its first field holding a JSON object.
 * An abort of `signal` while reading rejects with its reason.
 */
export async function prepareRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
  signal: AbortSignal | undefined,
): Promise<PreparedRequest> {
  const body = init?.body ?? null;
  if (body !== null && isStreamBody(body)) {
    const bytes = await readAll(body, signal);
    return prepared(decoder.decode(bytes), input, { ...init, body: bytes }, asBytes);
  }
  if (body !== null) return prepared(await textOf(body), input, init, textBody(body));
  if (input instanceof Request && input.body !== null) {
    // Read as fetch would read it (it is used up after); an unusable body rejects as fetch does.
    const bytes = new Uint8Array(await abortable(input.arrayBuffer(), signal));
    return prepared(decoder.decode(bytes), input, { ...init, body: bytes }, asBytes, true);
  }
  return prepared(undefined, input, init, undefined);
}
