import { StreamError } from '../providers/stream-error.js';
import { createHeaderReader, type HeaderSource } from '../providers/header-reader.js';
import { providerStatusKind, type StreamErrorKind, statusOfKind, streamErrorKind } from '../providers/stream-errors.js';
import { AttemptTimeoutError } from '../core/attempt-timeout-error.js';
import {
  googleErrorDetails,
  isGoogleDetail,
  retryDelayFromBody,
  retryDelayFromHeaders,
  retryDelayFromMessage,
} from './server-delay.js';
import type { FailureClassification, FailureReason } from './failure.js';

/** Options of {@link classifyFailure}. */
export interface ClassifyOptions {
  /**
   * The failure's response body, when the caller read it (a fetch `Response` cannot be read
   * synchronously; see `readErrorBody`). SDK errors carry theirs already.
   */
  readonly body?: unknown;
  /** Wall-clock time (`Date.now()`) an HTTP-date `retry-after` is measured from. @default Date.now() */
  readonly now?: number | undefined;
}

type Verdict = { readonly retryable: boolean; readonly reason: FailureReason };

/** Statuses worth another attempt, and what each means. */
const RETRYABLE_STATUS: ReadonlyMap<number, FailureReason> = new Map<number, FailureReason>([
  [408, 'timeout'],
  [409, 'conflict'],
  [429, 'rate-limited'],
  [500, 'server-error'],
  [502, 'server-error'],
  [503, 'overloaded'],
  [504, 'server-error'],
  // Cloudflare's origin errors, common in front of OpenAI-compatible servers.
  [520, 'server-error'],
  [521, 'server-error'],
  [522, 'server-error'],
  [523, 'server-error'],
  [524, 'server-error'],
]);

/** A status as a failure: the shared ones above, else what a provider's module says of it (Anthropic's 529). */
function retryableStatus(status: number): FailureReason | undefined {
  const shared = RETRYABLE_STATUS.get(status);
  if (shared !== undefined) return shared;
  const own = providerStatusKind(status);
  return own === undefined ? undefined : STREAM_VERDICT[own].reason;
}

// Network failures that a new connection may not meet. ENOTFOUND is left out: a misspelt host
// fails forever, while EAI_AGAIN is DNS saying "not now".
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const CLOSED_SOCKET_MESSAGE = /other side closed|socket hang up/i;

type Obj = Record<string | symbol, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null;
}

function isPlainData(value: unknown): boolean {
  if (typeof value === 'string' || Array.isArray(value)) return true;
  if (!isObject(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True when `value` or one of its classes is named `name`, whether or not the class sets `name`. */
function hasClassNamed(value: object, name: string): boolean {
  if ((value as { name?: unknown }).name === name) return true;
  for (let proto: unknown = Object.getPrototypeOf(value); isObject(proto); proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, 'constructor')) {
      const ctor: unknown = proto.constructor;
      if (typeof ctor === 'function' && ctor.name === name) return true;
    }
  }
  return false;
}

function asStatus(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined;
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof Response) return error.status;
  if (!isObject(error)) return undefined;
  const response = isObject(error.response) ? error.response : undefined;
  return (
    asStatus(error.status) ?? asStatus(error.statusCode) ?? asStatus(response?.status) ?? asStatus(response?.statusCode)
  );
}

function headersOf(error: unknown): HeaderSource | undefined {
  if (error instanceof Response) return error.headers;
  if (!isObject(error)) return undefined;
  if (isObject(error.headers)) return error.headers as HeaderSource;
  const response = error.response;
  return isObject(response) && isObject(response.headers) ? (response.headers as HeaderSource) : undefined;
}

function parseText(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // Not JSON after all: the text itself may still name a delay.
    }
  }
  return text;
}

/** The parsed error body: given, or carried by an SDK error (`error`), or by an HTTP client's error. */
function bodyOf(error: unknown, given: unknown): unknown {
  const found = given !== undefined ? given : findBody(error);
  return typeof found === 'string' ? parseText(found) : found;
}

function findBody(error: unknown): unknown {
  if (!isObject(error) || error instanceof Response) return undefined;
  const response = isObject(error.response) ? error.response : undefined;
  // openai / anthropic: `error`; generic: `body`; axios: `response.data`; got: `response.body`.
  for (const candidate of [error.error, error.body, response?.data, response?.body]) {
    if (candidate !== undefined && candidate !== null && isPlainData(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The error object inside a body: `{ error: {...} }` (OpenAI, Anthropic, Gemini) or the body
 * itself (the `error` field of an openai-node `APIError` is already the inner object).
 */
function innerError(body: unknown): Obj | undefined {
  const root: unknown = Array.isArray(body) ? body[0] : body;
  if (!isObject(root)) return undefined;
  return isObject(root.error) ? root.error : root;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function anthropicErrorCode(inner: Obj | undefined, error: unknown): string | undefined {
  const details = inner?.details;
  const fromBody = isObject(details) && !Array.isArray(details) ? str(details.error_code) : undefined;
  return fromBody ?? (isObject(error) ? str(error.errorCode) : undefined);
}

function isDailyQuota(body: unknown): boolean {
  return googleErrorDetails(body).some(
    (detail) =>
      isGoogleDetail(detail, 'google.rpc.QuotaFailure') &&
      Array.isArray(detail.violations) &&
      detail.violations.some(
        (v: unknown) => isObject(v) && typeof v.quotaId === 'string' && v.quotaId.includes('PerDay'),
      ),
  );
}

const REQUEST_TOO_LARGE = /^(?:\d{3}\s+)?Request too large/i;

/** Failures that no number of attempts will fix, whatever the status says. */
function permanentReason(
  body: unknown,
  bodyCode: string | undefined,
  spendCode: string | undefined,
  messages: readonly string[],
): FailureReason | undefined {
  if (bodyCode === 'insufficient_quota') return 'insufficient-quota';
  // Anthropic: enforced_spend_limit_reached, and its contract / linked-organization variants.
  if (spendCode?.endsWith('spend_limit_reached')) return 'spend-limit';
  if (messages.some((m) => REQUEST_TOO_LARGE.test(m))) return 'request-too-large';
  if (isDailyQuota(body)) return 'daily-quota';
  return undefined;
}

interface NetworkFailure {
  readonly reason: 'connection' | 'timeout' | undefined;
  readonly code: string | undefined;
}

/**
 * Looks through an error and its `cause` chain (fetch wraps the socket error in
 * `TypeError: fetch failed`; the SDKs wrap that in `APIConnectionError`) for a network failure.
 */
function networkFailure(error: unknown): NetworkFailure {
  let code: string | undefined;
  let byCode: 'connection' | 'timeout' | undefined;
  let byClass: 'connection' | 'timeout' | undefined;
  let closed = false;
  const visit = (e: Obj): void => {
    if (hasClassNamed(e, 'APIConnectionTimeoutError')) byClass = 'timeout';
    else if (byClass === undefined && hasClassNamed(e, 'APIConnectionError')) byClass = 'connection';
    const c = str(e.code);
    if (c !== undefined && byCode === undefined) {
      if (TIMEOUT_CODES.has(c)) byCode = 'timeout';
      else if (CONNECTION_CODES.has(c)) byCode = 'connection';
      if (byCode !== undefined || code === undefined) code = c;
    }
    if (typeof e.message === 'string' && CLOSED_SOCKET_MESSAGE.test(e.message)) closed = true;
  };
  let current: unknown = error;
  for (let depth = 0; depth < 8 && isObject(current); depth++) {
    visit(current);
    // Node reports a failed multi-address connect as an AggregateError of per-address errors.
    if (Array.isArray(current.errors))
      for (const inner of current.errors.slice(0, 8)) if (isObject(inner)) visit(inner);
    current = current.cause;
  }
  return {
    reason: byClass === 'timeout' ? 'timeout' : (byCode ?? byClass ?? (closed ? 'connection' : undefined)),
    code,
  };
}

/** What a mid-stream error of each kind means for another attempt. */
const STREAM_VERDICT: Readonly<Record<StreamErrorKind, Verdict>> = {
  'rate-limit': { retryable: true, reason: 'rate-limited' },
  overloaded: { retryable: true, reason: 'overloaded' },
  'server-error': { retryable: true, reason: 'server-error' },
  other: { retryable: false, reason: 'http-error' },
};

/**
 * The kind of a provider error reported inside a stream that began with HTTP 200, as the SDKs
 * throw it: an `APIError` without a status, named by its `type` (Anthropic: `overloaded_error`,
 * `rate_limit_error`, `api_error`) or its `code` (OpenAI-compatible gateways: `429`,
 * `rate_limit_exceeded`, `502`). Only for an error the SDK built from a body (or an `APIError`).
 */
function midStreamKind(error: unknown, inner: Obj | undefined): StreamErrorKind | undefined {
  if (!isObject(error) || (inner === undefined && !hasClassNamed(error, 'APIError'))) return undefined;
  return streamErrorKind(error.type, inner?.type, inner?.code, error.code, inner?.status);
}

/**
 * Decides whether a failure is worth another attempt, and what delay the server named. Reads the
 * status, headers and body of errors thrown by the `openai` and `@anthropic-ai/sdk` packages, of a
 * fetch `Response` (pass its body in `options.body`, see `readErrorBody`), and of any error with
 * `status` / `statusCode` / `response.status` and `headers` (a `Headers` or a plain record).
 *
 * - Retried: 408, 409, 429, 500, 502, 503, 504, 520-524, 529; connection errors (ECONNRESET,
 *   ECONNREFUSED, ETIMEDOUT, EPIPE, EAI_AGAIN, undici socket errors, `fetch failed` with such a
 *   cause, the SDKs' `APIConnectionError`); timeouts (`AttemptTimeoutError`, `TimeoutError`);
 *   errors reported mid-stream after HTTP 200 (`StreamError`, and the SDKs' `APIError` without a
 *   status whose type or code names a rate limit, an overload or a server error), with the HTTP
 *   status they stand for (429, 529 / 503, 500) as `status`.
 * - Never retried: other statuses (400, 401, 403, 404, 422, ...), aborts, OpenAI
 *   `insufficient_quota` and "Request too large", Anthropic spend limits, Gemini per-day quotas, and
 *   errors that are neither HTTP nor network failures (`reason: 'unknown'`).
 * - `x-should-retry: true|false` from the server overrides all of the above.
 */
export function classifyFailure(error: unknown, options: ClassifyOptions = {}): FailureClassification {
  if (error instanceof AttemptTimeoutError || (isObject(error) && error.name === 'TimeoutError')) {
    return { retryable: true, reason: 'timeout' };
  }
  if (isObject(error) && (error.name === 'AbortError' || hasClassNamed(error, 'APIUserAbortError'))) {
    return { retryable: false, reason: 'aborted' };
  }

  if (error instanceof StreamError) {
    const verdict = STREAM_VERDICT[error.kind];
    const retryAfterMs = error.providerMessage === undefined ? undefined : retryDelayFromMessage(error.providerMessage);
    return {
      ...verdict,
      ...(error.status !== undefined && { status: error.status }),
      ...(retryAfterMs !== undefined && { retryAfterMs }),
      ...(error.code !== undefined && { code: String(error.code) }),
    };
  }

  let status = statusOf(error);
  const headers = headersOf(error);
  const body = bodyOf(error, options.body);
  const inner = innerError(body);
  const errorMessage = isObject(error) && typeof error.message === 'string' ? error.message : undefined;
  const bodyMessage = str(inner?.message) ?? (typeof body === 'string' ? body : undefined);
  const messages = [bodyMessage, errorMessage].filter((m): m is string => m !== undefined);

  const spendCode = anthropicErrorCode(inner, error);
  const bodyCode = str(inner?.code) ?? (isObject(error) && status !== undefined ? str(error.code) : undefined);
  const network = status === undefined ? networkFailure(error) : undefined;
  const streamKind = network?.reason === undefined && status === undefined ? midStreamKind(error, inner) : undefined;
  const streamCode = streamKind === undefined ? undefined : streamCodeOf(error, inner);
  const code = spendCode ?? bodyCode ?? network?.code ?? streamCode ?? str(inner?.status);
  const fromStream = streamKind !== undefined && streamKind !== 'other';
  if (fromStream)
    status = statusOfKind(
      streamKind,
      inner?.code ?? (isObject(error) ? error.code : undefined),
      isAnthropicShape(error),
    );

  let retryAfterMs: number | undefined;
  if (status !== undefined || fromStream) {
    retryAfterMs = retryDelayFromHeaders(headers, options.now ?? Date.now()) ?? retryDelayFromBody(body);
    for (const message of messages) retryAfterMs ??= retryDelayFromMessage(message);
  }

  let verdict: Verdict;
  const permanent = permanentReason(body, bodyCode, spendCode, messages);
  if (permanent !== undefined) verdict = { retryable: false, reason: permanent };
  else if (fromStream) verdict = STREAM_VERDICT[streamKind];
  else if (status !== undefined) {
    const reason = retryableStatus(status);
    verdict = reason === undefined ? { retryable: false, reason: 'http-error' } : { retryable: true, reason };
  } else if (network?.reason !== undefined) verdict = { retryable: true, reason: network.reason };
  else verdict = { retryable: false, reason: 'unknown' };

  // The official SDKs let this header overrule every other rule; so do we.
  const shouldRetry = createHeaderReader(headers)('x-should-retry')[0]?.trim().toLowerCase();
  if (shouldRetry === 'true' && !verdict.retryable) verdict = { retryable: true, reason: 'server-retry' };
  else if (shouldRetry === 'false' && verdict.retryable) verdict = { retryable: false, reason: 'server-no-retry' };

  return {
    ...verdict,
    ...(status !== undefined && { status }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(code !== undefined && { code }),
  };
}

/** The type or code naming a mid-stream error, as a string. */
function streamCodeOf(error: unknown, inner: Obj | undefined): string | undefined {
  for (const value of [inner?.type, inner?.code, isObject(error) ? error.type : undefined]) {
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    const s = str(value);
    if (s !== undefined) return s;
  }
  return undefined;
}

/** An error built from an Anthropic error event (`{"type":"error","error":{...}}`): its overload is a 529. */
function isAnthropicShape(error: unknown): boolean {
  if (!isObject(error)) return false;
  const body = error.error;
  return isObject(body) && body.type === 'error' && isObject(body.error);
}

/** The `Response` a failure carries: the failure itself, or an HTTP client error's `response` (ky). */
export function responseOf(failure: unknown): Response | undefined {
  if (failure instanceof Response) return failure;
  return isObject(failure) && failure.response instanceof Response ? failure.response : undefined;
}
