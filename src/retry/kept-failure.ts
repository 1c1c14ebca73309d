import type { Clock } from '../internal/clock.js';
import { exactSecrets, redactHeaders, redactString, redactValue, responsesIn } from '../internal/redact.js';
import { responseOf } from '../feedback/classify.js';
import { type ErrorBodyRead, parseErrorBody, readErrorBodyText } from '../feedback/response-body.js';

/*
 * A failure `retry` keeps (in `RetryError.errors` and `cause`, and in `retry` events) outlives the
 * call and is often logged whole. Its `Response`s are copied with a redacted body: a gateway that
 * echoes the request's key in an error body must not leave it readable through `await
 * err.cause.text()`.
 */

/** The exact credentials each failure's request carried, told by whoever sent it (the fetch wrapper). */
const requestSecrets = new WeakMap<object, readonly string[]>();

/**
 * Tells `retry` the exact credential values the request behind `failure` (a `Response` or a thrown
 * error) carried (its `Authorization`, `x-api-key`, ...), so they are redacted from what is kept
 * even where no pattern would find them. Internal.
 */
export function rememberRequestSecrets(failure: unknown, values: Iterable<string>): void {
  if (typeof failure !== 'object' || failure === null) return;
  const secrets = exactSecrets(values);
  if (secrets.length > 0) requestSecrets.set(failure, secrets);
}

/** Headers that describe the original bytes on the wire, not the copy's body. */
const WIRE_HEADERS: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'transfer-encoding']);
/** Statuses whose responses have no body (a `Response` cannot be built with one). */
const NULL_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);
/** Characters of credentials (keys, bearer tokens); a run of them at a cut may be part of one. */
const CREDENTIAL_CHAR = /[A-Za-z0-9._~+/=-]/;
/** Longer than any credential: a cut never drops more than this of what precedes it. */
const MAX_CREDENTIAL_LENGTH = 256;

/** Drops what a cut may have left of a credential at the end of a partial body. */
function trimCutSecret(text: string, secrets: readonly string[]): string {
  let end = text.length;
  while (end > 0 && text.length - end < MAX_CREDENTIAL_LENGTH && CREDENTIAL_CHAR.test(text.charAt(end - 1))) end--;
  let out = text.slice(0, end);
  for (const secret of secrets) {
    for (let n = Math.min(secret.length - 1, out.length); n > 0; n--) {
      if (out.endsWith(secret.slice(0, n))) {
        out = out.slice(0, -n);
        break;
      }
    }
  }
  return out;
}

/** A new `Response` like `response`, with redacted headers, status text, URL and body text. */
function redactedCopy(response: Response, read: ErrorBodyRead | undefined, secrets: readonly string[]): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(redactHeaders(response.headers, secrets))) {
    if (!WIRE_HEADERS.has(name)) headers.append(name, value);
  }
  let body: Uint8Array<ArrayBuffer> | string | null = null;
  if (read !== undefined && !NULL_BODY_STATUS.has(response.status)) {
    const text = redactString(read.text, secrets);
    // Untouched and whole: the very bytes (not a re-encoding of their decoded text).
    body = read.complete ? (text === read.text ? read.bytes : text) : trimCutSecret(text, secrets);
  }
  const init = { status: response.status, statusText: redactString(response.statusText, secrets), headers };
  let copy: Response;
  try {
    copy = new Response(body, init);
  } catch {
    // A status a `Response` cannot be built with (a network error's 0): keep the parts that can.
    copy = new Response(body, { headers });
    Object.defineProperties(copy, {
      status: { value: response.status },
      statusText: { value: init.statusText },
      ok: { value: false },
    });
  }
  Object.defineProperty(copy, 'url', { value: redactString(response.url, secrets) });
  return copy;
}

/** Options of {@link keepSafely}. */
export interface KeepOptions {
  /** The clock bounding each body read. */
  readonly clock: Clock;
  /** Stops the body reads at once. */
  readonly signal: AbortSignal;
}

/** What {@link keepSafely} made of a failure. */
export interface KeptFailure {
  /** The failure with credentials redacted, every `Response` in it a copy with a redacted body. */
  readonly safe: unknown;
  /** The parsed body of the failure's own `Response` (see `responseOf`), for classification. */
  readonly body: unknown;
}

/**
 * Reads the body of each `Response` in `failure` once (from a clone, at most 64 KiB, within 1 s:
 * see `readErrorBodyText`), and returns a redacted copy of the failure whose `Response`s carry the
 * redacted text, with the parsed body of its own response for `classifyFailure`. The original is
 * left for the caller, its body still unread. Internal.
 */
export async function keepSafely(failure: unknown, options: KeepOptions): Promise<KeptFailure> {
  const secrets = typeof failure === 'object' && failure !== null ? (requestSecrets.get(failure) ?? []) : [];
  const own = responseOf(failure);
  const found = responsesIn(failure);
  if (own !== undefined && !found.includes(own)) found.push(own);
  if (found.length === 0) return { safe: redactValue(failure, { secrets }), body: undefined };

  const reads = await Promise.all(
    found.map((response) => readErrorBodyText(response, { clock: options.clock, signal: options.signal })),
  );
  const responses = new Map<Response, Response>();
  let body: unknown;
  found.forEach((response, i) => {
    const read = reads[i];
    responses.set(response, redactedCopy(response, read, secrets));
    if (response === own && read !== undefined) body = parseErrorBody(read.text);
  });
  return { safe: redactValue(failure, { secrets, responses }), body };
}
