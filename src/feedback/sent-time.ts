import { subscribe } from 'node:diagnostics_channel';

/*
 * When a request left the process, for `countFrom: 'sent'`. Node's built-in fetch (undici)
 * publishes `undici:client:sendHeaders` ({ request, headers, socket }) once a request's headers
 * are written to its socket. The wrapper tags each attempt with a short header and waits for the
 * message carrying that tag: one subscriber per process, and a map from tag to callback whose
 * entries go when the message comes or the attempt settles, whichever is first.
 */

/** The header tagging an attempt, so its `sendHeaders` message can be told apart. */
export const SENT_TAG_HEADER = 'x-forestall-request';

const SEND_HEADERS_CHANNEL = 'undici:client:sendHeaders';

/** Distinguishes this copy of the module from another loaded in the same process. */
const instance = Math.floor(Math.random() * 36 ** 4)
  .toString(36)
  .padStart(4, '0');

const waiting = new Map<string, () => void>();
let subscribed = false;
let counter = 0;

/** The tag among undici's request headers: alternating names and values, or raw header lines. */
function tagOf(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === SENT_TAG_HEADER) return String(headers[i + 1]).trim();
    }
    return undefined;
  }
  if (typeof headers === 'string') {
    return /(?:^|\n)x-forestall-request:[ \t]*([^\r\n]*)/i.exec(headers)?.[1]?.trim();
  }
  return undefined;
}

function onSendHeaders(message: unknown): void {
  if (waiting.size === 0 || typeof message !== 'object' || message === null) return;
  const { request, headers } = message as { request?: { headers?: unknown }; headers?: unknown };
  const tag = tagOf(request?.headers) ?? tagOf(headers);
  if (tag === undefined) return;
  const callback = waiting.get(tag);
  if (callback === undefined) return;
  // The first message only: a redirect's next request carries the same headers.
  waiting.delete(tag);
  try {
    callback();
  } catch {
    // Never let counting break the send.
  }
}

function isPlainRecord(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** One attempt being watched for the moment it leaves. */
export interface SentWatch {
  /** The attempt's fetch arguments, tagged. */
  readonly args: [input: string | URL | Request, init: RequestInit | undefined];
  /** Stops watching (the attempt settled). Idempotent. */
  settle(): void;
}

/**
 * Tags an attempt for Node's built-in fetch and calls `onSent` when its headers are written to the
 * socket. `undefined` when it cannot be tagged (headers fetch itself would refuse): the caller
 * falls back to its bound.
 */
export function watchSent(
  args: [input: string | URL | Request, init: RequestInit | undefined],
  onSent: () => void,
): SentWatch | undefined {
  const [input, init] = args;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  const tag = `${instance}.${counter.toString(36)}`;
  const given = init?.headers;
  let headers: HeadersInit;
  if (isPlainRecord(given) && !Object.keys(given).some((name) => name.toLowerCase() === SENT_TAG_HEADER)) {
    // What SDKs pass: a record is copied with the tag added (fetch checks it as it would have).
    headers = { ...given, [SENT_TAG_HEADER]: tag };
  } else {
    try {
      const copy = new Headers(given ?? (input instanceof Request ? input.headers : undefined));
      copy.set(SENT_TAG_HEADER, tag);
      headers = copy;
    } catch {
      return undefined; // fetch refuses them with its own error.
    }
  }
  if (!subscribed) {
    subscribe(SEND_HEADERS_CHANNEL, onSendHeaders);
    subscribed = true;
  }
  waiting.set(tag, onSent);
  return {
    args: [input, { ...init, headers }],
    settle: () => void waiting.delete(tag),
  };
}

/** How many attempts are being watched. For tests: 0 once every request settled. @internal */
export function watchedCount(): number {
  return waiting.size;
}
