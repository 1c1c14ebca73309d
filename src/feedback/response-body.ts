import { systemClock, type Clock, type TimerHandle } from '../internal/clock.js';

/** Options of {@link readErrorBody}. */
export interface ReadErrorBodyOptions {
  /** Stop reading after this many bytes: an error body worth reading is small. @default 65536 */
  readonly maxBytes?: number | undefined;
  /** Stop waiting for more bytes after this long: a server may stall mid-body. @default 1000 */
  readonly timeoutMs?: number | undefined;
  /** Aborting it stops the read at once. */
  readonly signal?: AbortSignal | undefined;
  /** The clock whose timer bounds the read. @default performance.now() and Node's timers */
  readonly clock?: Clock | undefined;
}

/** @default 64 KiB */
const DEFAULT_MAX_BYTES = 65_536;
/** @default 1 s */
const DEFAULT_TIMEOUT_MS = 1_000;

/** An error body's text as {@link readErrorBody} gives it: parsed JSON, the text, or `undefined` when empty. Internal. */
export function parseErrorBody(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // A truncated or malformed JSON body still has a message worth matching ("try again in").
    }
  }
  return text;
}

/** What {@link readErrorBodyText} got of a body. */
export interface ErrorBodyRead {
  /** The bytes that arrived, at most `maxBytes`. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Those bytes as UTF-8 text. */
  readonly text: string;
  /** True when the body ended within `maxBytes`, before the timeout and the abort. */
  readonly complete: boolean;
}

/**
 * Reads at most `maxBytes` of a `Response`'s body from a clone, so the caller can still read the
 * original. `undefined` when there is no body or it was used already. Never hangs and never
 * throws (see {@link readErrorBody}). Internal.
 */
export async function readErrorBodyText(
  response: Response,
  options: ReadErrorBodyOptions = {},
): Promise<ErrorBodyRead | undefined> {
  if (response.bodyUsed || response.body === null) return undefined;
  let stream: ReadableStream<Uint8Array> | null;
  try {
    stream = response.clone().body;
  } catch {
    return undefined;
  }
  if (stream === null) return undefined;

  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let done = false;
  let timer: TimerHandle | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<'stop'>((resolve) => {
    if (signal?.aborted) return resolve('stop');
    timer = clock.setTimeout(() => resolve('stop'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    onAbort = () => resolve('stop');
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    while (bytes < maxBytes) {
      const next = await Promise.race([reader.read(), stop]);
      if (next === 'stop') break;
      if (next.done) {
        done = true;
        break;
      }
      const chunk = next.value.subarray(0, maxBytes - bytes);
      bytes += chunk.byteLength;
      chunks.push(chunk);
    }
  } catch {
    // A broken stream (reset mid-body) leaves what arrived; that is all a classifier can use.
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    // Cancelling our branch of the tee lets the original drain or be cancelled on its own.
    if (!done) reader.cancel().catch(() => undefined);
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes: all, text: new TextDecoder().decode(all), complete: done };
}

/**
 * Reads the body of a failed `Response` for classification, from a clone so the caller can still
 * read the original. Returns the parsed JSON, or the text when it is not JSON, or `undefined` when
 * there is no body. Never hangs and never throws: it stops at `maxBytes`, after `timeoutMs`, or when
 * `signal` aborts, and returns what arrived.
 */
export async function readErrorBody(response: Response, options: ReadErrorBodyOptions = {}): Promise<unknown> {
  const read = await readErrorBodyText(response, options);
  return read === undefined ? undefined : parseErrorBody(read.text);
}
