import { isObject } from '../internal/is-object.js';
import { PROVIDER_SPECS } from './table.js';

/*
 * Errors a provider reports inside a stream that began with HTTP 200, and what each means:
 * - Anthropic: `event: error` + `{"type":"error","error":{"type":"overloaded_error","message":...}}`;
 * - OpenAI-compatible gateways (OpenRouter): `data: {"error":{"code":429,"message":...}}` (or a
 *   5xx code, or a string code such as `rate_limit_exceeded`);
 * - OpenAI Responses: `{"type":"error","code":...}` and `response.failed` with `response.error`;
 * - Gemini: `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`.
 */

/** What a mid-stream error means: the provider's rate limit, its overload, a server error, or anything else. */
export type StreamErrorKind = 'rate-limit' | 'overloaded' | 'server-error' | 'other';

/** A mid-stream error as read from the stream. Internal. */
export interface StreamErrorInfo {
  readonly kind: StreamErrorKind;
  /** The HTTP status the same failure has when the provider answers it before streaming. */
  readonly status: number | undefined;
  /** The provider's error type (`overloaded_error`) or code (`429`, `rate_limit_exceeded`). */
  readonly code: string | number | undefined;
  /** The provider's message, if any (not redacted here). */
  readonly message: string | undefined;
}

/** Error names every provider may use; each provider's module adds its own (`errors.names`). */
const SHARED_NAMES: readonly (readonly [string, StreamErrorKind])[] = [
  ['rate_limit_exceeded', 'rate-limit'],
  ['rate_limited', 'rate-limit'],
  ['too_many_requests', 'rate-limit'],
  ['overloaded', 'overloaded'],
  ['server_overloaded', 'overloaded'],
  ['service_unavailable', 'overloaded'],
  ['server_error', 'server-error'],
  ['internal_error', 'server-error'],
  ['internal_server_error', 'server-error'],
  ['bad_gateway', 'server-error'],
  ['gateway_timeout', 'server-error'],
  ['deadline_exceeded', 'server-error'],
];

const BY_NAME: ReadonlyMap<string, StreamErrorKind> = new Map<string, StreamErrorKind>([
  ...SHARED_NAMES,
  ...PROVIDER_SPECS.flatMap((spec) => Object.entries(spec.errors?.names ?? {})),
]);

/** Statuses of providers' own (Anthropic's 529 overload, Groq's 498), from their modules. */
const PROVIDER_STATUSES: ReadonlyMap<number, Exclude<StreamErrorKind, 'other'>> = new Map(
  PROVIDER_SPECS.flatMap((spec) =>
    Object.entries(spec.errors?.statuses ?? {}).map(([status, kind]) => [Number(status), kind]),
  ),
);

/** What a provider's status of its own means, if any provider's module names it. Internal. */
export function providerStatusKind(status: number): Exclude<StreamErrorKind, 'other'> | undefined {
  return PROVIDER_STATUSES.get(status);
}

/** Names no number of attempts will fix, though they sound like a rate limit. */
const PERMANENT = /insufficient_quota|spend_limit|billing/i;

function kindOfStatus(status: number): StreamErrorKind {
  const own = PROVIDER_STATUSES.get(status);
  if (own !== undefined) return own;
  if (status === 429) return 'rate-limit';
  if (status === 503) return 'overloaded';
  return status >= 500 && status <= 599 ? 'server-error' : 'other';
}

function asStatus(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

function kindOfName(value: unknown): StreamErrorKind | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (PERMANENT.test(value)) return 'other';
  return BY_NAME.get(value.toLowerCase());
}

/**
 * The kind of an error object's `code` / `type` / `status` fields (the inner object of
 * `{"error": {...}}`), and of an SDK error's own `type` / `code`: a numeric or numeric-string
 * code is read as an HTTP status; names are matched case-insensitively. Internal.
 */
export function streamErrorKind(...fields: readonly unknown[]): StreamErrorKind | undefined {
  for (const field of fields) if (typeof field === 'string' && PERMANENT.test(field)) return 'other';
  for (const field of fields) {
    const status = asStatus(field);
    const kind = status !== undefined ? kindOfStatus(status) : kindOfName(field);
    if (kind !== undefined) return kind;
  }
  return undefined;
}

/** The HTTP status of a kind of failure: a numeric code given, else 429, 529 (Anthropic's overload) or 503, 500. */
export function statusOfKind(kind: StreamErrorKind, code: unknown, anthropic: boolean): number | undefined {
  const given = asStatus(code);
  if (given !== undefined) return given;
  if (kind === 'rate-limit') return 429;
  if (kind === 'overloaded') return anthropic ? 529 : 503;
  return kind === 'server-error' ? 500 : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The error object an event carries, if it is an error event. */
function errorObject(event: Record<string, unknown>, errorEvent: boolean): Record<string, unknown> | undefined {
  if (isObject(event.error)) return event.error;
  if (event.type === 'error') return event; // OpenAI Responses: code and message at the top
  if (event.type === 'response.failed' && isObject(event.response) && isObject(event.response.error)) {
    return event.response.error;
  }
  return errorEvent ? event : undefined;
}

/**
 * The error a parsed stream event reports, or `undefined` when it is not an error.
 * `errorEvent`: its SSE `event:` field was `error` (then even data that is not JSON is an error).
 */
export function streamErrorOf(event: unknown, errorEvent: boolean): StreamErrorInfo | undefined {
  if (!isObject(event)) {
    if (!errorEvent) return undefined;
    return {
      kind: 'other',
      status: undefined,
      code: undefined,
      message: typeof event === 'string' ? event : undefined,
    };
  }
  const inner = errorObject(event, errorEvent);
  if (inner === undefined) return undefined;
  const anthropic = event.type === 'error' && inner !== event;
  // Anthropic names the error in `type`; OpenAI-style servers in `code` (`type` is a category).
  const fields = anthropic ? [inner.type, inner.code] : [inner.code, inner.status, inner.type];
  const kind = streamErrorKind(...fields) ?? 'other';
  const code = fields.find((f) => (typeof f === 'number' && Number.isFinite(f)) || str(f) !== undefined) as
    | string
    | number
    | undefined;
  return {
    kind,
    status: statusOfKind(kind, typeof code === 'number' ? code : inner.code, anthropic),
    code,
    message: str(inner.message),
  };
}
