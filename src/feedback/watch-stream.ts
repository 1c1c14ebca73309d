import type { AnsweredLease } from './answered-lease.js';
import { StreamEventWatcher } from '../providers/stream-events.js';
import type { ProviderName } from '../providers/types.js';
import { StreamError } from '../providers/stream-error.js';

/*
 * How the fetch wrapper follows a streamed (server-sent events) ok response:
 * 1. It peeks: chunks are read and held until the first event with content (a text delta, a tool
 *    call), an error event, the end of the stream, or PEEK_LIMIT bytes. An error before content
 *    means the attempt failed like the equivalent HTTP error: the caller has seen nothing yet.
 * 2. Then it hands the caller a stream that replays the held chunks and passes the rest one by one
 *    as the caller pulls them (no buffering, no added delay), reconciling the usage the stream
 *    reported and releasing the lease when it has been read, cancelled or errored. An error event
 *    after content errors the stream with a `StreamError` (the error event itself is not passed on).
 */

/** Bytes held while peeking before the stream is handed on anyway (a stream whose content never shows). */
const PEEK_LIMIT = 256 * 1024;

const unreleased = new FinalizationRegistry<AnsweredLease>((lease) => lease.release());

/** A streamed response, opened: handed on, or failed before any content. */
export type OpenedStream =
  | { readonly failed: false; readonly response: Response }
  /** `response` replays everything the server sent, for the caller's SDK to read its own error from. */
  | { readonly failed: true; readonly error: StreamError; readonly response: Response };

/**
 * Ends the lease once: the usage the stream reported, else the reservation stays; an overload
 * reported; then released.
 */
class StreamLease {
  readonly #lease: AnsweredLease;
  readonly #watcher: StreamEventWatcher;
  #done = false;

  constructor(lease: AnsweredLease, watcher: StreamEventWatcher) {
    this.#lease = lease;
    this.#watcher = watcher;
  }

  finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#watcher.end();
    const usage = this.#watcher.usage;
    if (usage !== undefined) this.#lease.reconcile(usage);
    // An overload mid-stream is an overload signal like a 529 (adaptive concurrency hears it).
    if (this.#watcher.error?.kind === 'overloaded') this.#lease.overloaded();
    this.#lease.release();
    unreleased.unregister(this);
  }

  /** Releases the lease when `response` is garbage-collected unread. */
  guard(response: Response): void {
    unreleased.register(response, this.#lease, this);
  }
}

function rewrap(response: Response, stream: ReadableStream<Uint8Array>): Response {
  const wrapped = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: response.url });
  return wrapped;
}

/** The held chunks, then the rest of `reader` as it comes, unwatched. */
function replay(held: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = held.shift();
        if (next !== undefined) return controller.enqueue(next);
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * Peeks at a streamed response until its first content (see above), then hands it on.
 * `onError` hears every error the provider reported mid-stream, before or after content, once the
 * lease is settled. Rejects (the lease released, the reservation kept) when reading fails while
 * peeking, e.g. when the caller aborts.
 */
export async function openStream(
  response: Response,
  lease: AnsweredLease,
  provider: ProviderName,
  onError: (error: StreamError) => void,
): Promise<OpenedStream> {
  const body = response.body;
  if (body === null) {
    lease.release();
    return { failed: false, response };
  }
  const reader = body.getReader();
  const watcher = new StreamEventWatcher(provider);
  const settle = new StreamLease(lease, watcher);
  const held: Uint8Array[] = [];
  let size = 0;
  let last: Uint8Array | undefined;
  for (;;) {
    let read: ReadableStreamReadResult<Uint8Array>;
    try {
      read = await reader.read();
    } catch (error) {
      // Sent and perhaps generating: the slot and the reservation stay.
      settle.finish();
      throw error;
    }
    if (read.done) {
      watcher.end();
      break;
    }
    const chunk = read.value;
    watcher.push(chunk);
    if (watcher.error !== undefined) {
      last = chunk;
      break;
    }
    held.push(chunk);
    size += chunk.byteLength;
    if (watcher.content || size >= PEEK_LIMIT) {
      return { failed: false, response: watched(response, held, reader, watcher, settle, onError) };
    }
  }
  const info = watcher.error;
  settle.finish();
  if (info === undefined) return { failed: false, response: rewrap(response, replay(held, reader)) };
  const error = new StreamError(info);
  onError(error);
  if (!watcher.contentBeforeError) {
    // All the server sent so far, the error included, replayed whole; then the rest.
    if (last !== undefined) held.push(last);
    return { failed: true, error, response: rewrap(response, replay(held, reader)) };
  }
  // Content and the error came in one chunk: the content is handed on, then the stream errors.
  if (last !== undefined && watcher.errorOffset > 0) held.push(last.subarray(0, watcher.errorOffset));
  return { failed: false, response: rewrap(response, erroring(held, error, reader)) };
}

/** The held chunks, then the error. */
function erroring(
  held: Uint8Array[],
  error: StreamError,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  reader.cancel(error).catch(() => undefined);
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = held.shift();
        if (next !== undefined) controller.enqueue(next);
        else controller.error(error);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The held chunks, then the rest of the stream as the caller pulls it, watched for usage and errors. */
function watched(
  response: Response,
  held: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
  watcher: StreamEventWatcher,
  settle: StreamLease,
  onError: (error: StreamError) => void,
): Response {
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>): void => {
    const info = watcher.error;
    if (info === undefined) return;
    settle.finish();
    const error = new StreamError(info);
    onError(error);
    controller.error(error);
    reader.cancel(error).catch(() => undefined);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = held.shift();
        if (next !== undefined) return controller.enqueue(next);
        try {
          const { done, value } = await reader.read();
          if (done) {
            watcher.end();
            if (watcher.error !== undefined) return fail(controller);
            settle.finish();
            controller.close();
            return;
          }
          watcher.push(value);
          if (watcher.error !== undefined) {
            // What came before the error event is the caller's; the error event is not.
            if (watcher.errorOffset > 0) controller.enqueue(value.subarray(0, watcher.errorOffset));
            return fail(controller);
          }
          controller.enqueue(value);
        } catch (error) {
          settle.finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        settle.finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const wrapped = rewrap(response, stream);
  // A caller that never reads the body would hold the slot forever: release it when the response is collected.
  settle.guard(wrapped);
  return wrapped;
}
