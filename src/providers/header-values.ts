import { parseGoDuration } from './go-duration.js';

/*
 * Parsers for single rate-limit header values. Each returns `undefined` for anything it does not
 * understand and never throws: headers come from the network, and a gateway or an old API version
 * may send something odd (empty, negative, `-1`, huge, several values joined with commas).
 */

// Plain non-negative decimals only: `Number()` would also take `0x10`, `1e3`, `Infinity` and ''.
const DECIMAL = /^\d+(?:\.\d+)?$/;

/** A non-negative decimal number, or `undefined`. Values beyond 2^53 are treated as garbage. */
export function parseNonNegative(text: string): number | undefined {
  const s = text.trim();
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? n : undefined;
}

/**
 * A reset given as a duration: a Go duration (`6m0s`), or a bare number of seconds, which Azure and
 * some OpenAI-compatible servers send instead.
 */
export function parseDurationReset(text: string): number | undefined {
  const go = parseGoDuration(text);
  if (go !== undefined) return go;
  const seconds = parseNonNegative(text);
  return seconds === undefined ? undefined : seconds * 1_000;
}

// RFC 3339 date-time: `2024-05-01T12:00:00Z`, fractions and numeric offsets allowed.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp as milliseconds from `now` (past times give 0). */
export function parseRfc3339Reset(text: string, now: number): number | undefined {
  const s = text.trim();
  if (!RFC3339.test(s)) return undefined;
  const at = Date.parse(s.toUpperCase().replace(' ', 'T'));
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - now);
}

// An HTTP date needs a four-digit year and a clock time; `Date.parse` alone accepts things like "2".
const HTTP_DATE_SHAPE = /\d{4}/;
const HTTP_TIME_SHAPE = /\d{1,2}:\d{2}:\d{2}/;

/** A `retry-after` value: delay seconds (decimals tolerated) or an HTTP date, as ms from `now`. */
export function parseRetryAfter(text: string, now: number): number | undefined {
  const seconds = parseNonNegative(text);
  if (seconds !== undefined) return seconds * 1_000;
  const s = text.trim();
  if (!HTTP_DATE_SHAPE.test(s) || !HTTP_TIME_SHAPE.test(s)) return undefined;
  const at = Date.parse(s);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Splits repeated and comma-joined values of a numeric header into single values. Only for headers
 * whose values never contain commas themselves (not HTTP dates).
 */
export function splitValues(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * Picks one value out of several parsed ones: `min` for limits and remaining amounts, `max` for
 * resets and delays, so a conflicting repeat never makes the caller less careful.
 */
export function pick(values: readonly (number | undefined)[], choose: 'min' | 'max'): number | undefined {
  let out: number | undefined;
  for (const v of values) {
    if (v === undefined) continue;
    if (out === undefined || (choose === 'min' ? v < out : v > out)) out = v;
  }
  return out;
}
