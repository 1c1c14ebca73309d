import { parseGoDuration } from '../providers/go-duration.js';
import { createHeaderReader, type HeaderSource } from '../providers/header-reader.js';
import { parseNonNegative, parseRetryAfter } from '../providers/header-values.js';

/*
 * The delays a server can name before the next attempt. A named delay is used as it is, without
 * jitter: the server knows when its window reopens, and jitter would only make us early or late.
 */

function firstParsed(values: readonly string[], parse: (text: string) => number | undefined): number | undefined {
  for (const value of values) {
    const parsed = parse(value);
    if (parsed !== undefined) return parsed;
  }
  return undefined;
}

/**
 * The delay named by response headers, in ms: `retry-after-ms` (OpenAI, Azure), then
 * `x-ms-retry-after-ms` (Azure), then `retry-after` (seconds, or an HTTP date).
 *
 * @param wallNow The wall-clock time (`Date.now()`) an HTTP date is measured from: the date is
 *   wall-clock time, so this is the one place a monotonic clock would be wrong.
 */
export function retryDelayFromHeaders(
  headers: HeaderSource | null | undefined,
  wallNow: number = Date.now(),
): number | undefined {
  const read = createHeaderReader(headers);
  return (
    firstParsed(read('retry-after-ms'), parseNonNegative) ??
    firstParsed(read('x-ms-retry-after-ms'), parseNonNegative) ??
    firstParsed(read('retry-after'), (text) => parseRetryAfter(text, wallNow))
  );
}

// A protobuf Duration in JSON: decimal seconds with an `s` suffix ("26s", "3.5s", "0.000001s").
const PROTOBUF_DURATION = /^(\d+)(?:\.(\d{1,9}))?s$/;

/** Parses a protobuf JSON duration (`"26s"`, `"3.5s"`) or `{ seconds, nanos }` into ms. */
export function parseProtobufDuration(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const match = PROTOBUF_DURATION.exec(value.trim());
    if (match === null) return undefined;
    const fraction = match[2] ?? '';
    return Number(match[1]) * 1_000 + (fraction === '' ? 0 : (Number(fraction) / 10 ** fraction.length) * 1_000);
  }
  if (typeof value === 'object' && value !== null) {
    const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
    const s = typeof seconds === 'string' ? Number(seconds) : seconds;
    const n = nanos === undefined ? 0 : nanos;
    if (
      typeof s !== 'number' ||
      !Number.isFinite(s) ||
      s < 0 ||
      typeof n !== 'number' ||
      !Number.isFinite(n) ||
      n < 0
    ) {
      return undefined;
    }
    return s * 1_000 + n / 1e6;
  }
  return undefined;
}

/** The `details` array of a Google API error body (`{ error: { details: [...] } }`), if any. */
export function googleErrorDetails(body: unknown): readonly Record<string, unknown>[] {
  // Some Gemini endpoints answer with a one-element array of error bodies.
  const root: unknown = Array.isArray(body) ? body[0] : body;
  if (typeof root !== 'object' || root === null) return [];
  const inner: unknown = (root as { error?: unknown }).error ?? root;
  const details: unknown =
    typeof inner === 'object' && inner !== null ? (inner as { details?: unknown }).details : undefined;
  if (!Array.isArray(details)) return [];
  return details.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null);
}

/** True when a Google error detail is of the given type (`google.rpc.RetryInfo`, ...). */
export function isGoogleDetail(detail: Record<string, unknown>, type: string): boolean {
  const at = detail['@type'];
  return typeof at === 'string' && at.endsWith(type);
}

/**
 * The delay named by a Gemini (Google API) error body: the `retryDelay` of a `details[]` entry
 * whose `@type` ends with `google.rpc.RetryInfo`.
 */
export function retryDelayFromBody(body: unknown): number | undefined {
  for (const detail of googleErrorDetails(body)) {
    if (!isGoogleDetail(detail, 'google.rpc.RetryInfo')) continue;
    const delay = parseProtobufDuration(detail.retryDelay);
    if (delay !== undefined) return delay;
  }
  return undefined;
}

// "Please try again in 1.54s" / "in 20ms" / "in 6m0s" (OpenAI writes Go durations).
const TRY_AGAIN_GO = /\btry again in\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)(?![a-z])/i;
// "try again in 2 seconds", "Please retry after 7 seconds" (Azure), "retry after 500 ms".
const TRY_AGAIN_WORDS =
  /\b(?:try again in|retry after|retry in)\s+(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?)\b/i;

const WORD_UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, s: 1_000 };

/** The delay named in an error message ("Please try again in 1.54s", "retry after 7 seconds"), in ms. */
export function retryDelayFromMessage(message: string): number | undefined {
  const go = TRY_AGAIN_GO.exec(message);
  if (go?.[1] !== undefined) {
    const ms = parseGoDuration(go[1]);
    if (ms !== undefined) return ms;
  }
  const words = TRY_AGAIN_WORDS.exec(message);
  if (words?.[1] !== undefined && words[2] !== undefined) {
    const unit = words[2].toLowerCase();
    const scale =
      unit === 'ms' || unit.startsWith('milli') ? 1 : (WORD_UNIT_MS[unit.startsWith('m') ? 'm' : 's'] ?? 1_000);
    return Number(words[1]) * scale;
  }
  return undefined;
}
