import { createHeaderReader, type HeaderReader, type HeaderSource } from './header-reader.js';
import {
  parseDurationReset,
  parseNonNegative,
  parseRetryAfter,
  parseRfc3339Reset,
  pick,
  splitValues,
} from './header-values.js';
import type { HeaderSpec, LimitHeaders, LimitKey } from './provider-spec.js';
import {
  PROVIDER_NAMES,
  type ProviderName,
  providerSpec,
  type RateLimitSnapshot,
  type RateLimitWindowSnapshot,
} from './types.js';

/** How each reset format reads, as milliseconds from `now` until back to full. */
const RESET_READERS: Readonly<Record<HeaderSpec['reset'], (value: string, now: number) => number | undefined>> = {
  duration: (value) => parseDurationReset(value),
  rfc3339: parseRfc3339Reset,
  'epoch-ms': (value, now) => {
    const at = parseNonNegative(value);
    return at === undefined ? undefined : Math.max(0, at - now);
  },
};

function readLimit(
  read: HeaderReader,
  names: LimitHeaders,
  spec: HeaderSpec,
  now: number,
): RateLimitWindowSnapshot | undefined {
  const numbers = (name: string | undefined): (number | undefined)[] =>
    name === undefined ? [] : splitValues(read(name)).map(parseNonNegative);

  // A limit of 0 cannot be real on a response that was served, and would make every cost
  // impossible for a limiter that adopts it: treat it as unknown, like Azure's -1.
  const limit = pick(
    numbers(names.limit).filter((n) => n !== undefined && n > 0),
    'min',
  );
  const remaining = pick(numbers(names.remaining), 'min');
  let resetMs: number | undefined;
  if (names.reset !== undefined) {
    const values = splitValues(read(names.reset));
    resetMs = pick(
      values.map((v) => RESET_READERS[spec.reset](v, now)),
      'max',
    );
    if (spec.zeroIsUnknown && resetMs === 0) resetMs = undefined;
  }
  if (limit === undefined && remaining === undefined && resetMs === undefined) return undefined;
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetMs === undefined ? {} : { resetMs }),
    ...(names.windowMs === undefined ? {} : { windowMs: names.windowMs }),
  };
}

function readRetryAfter(read: HeaderReader, now: number): number | undefined {
  // The official SDKs prefer the millisecond headers; so do we.
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = pick(splitValues(read(name)).map(parseNonNegative), 'max');
    if (ms !== undefined) return ms;
  }
  const values = read('retry-after');
  // An HTTP date has a comma of its own, so try each value whole before splitting joined repeats.
  const parsed = values.flatMap((v) => {
    const whole = parseRetryAfter(v, now);
    return whole !== undefined ? [whole] : splitValues([v]).map((part) => parseRetryAfter(part, now));
  });
  return pick(parsed, 'max');
}

/**
 * Reads a response's rate-limit headers under `provider`'s conventions into a
 * {@link RateLimitSnapshot}. Header names are matched case-insensitively; values that are missing,
 * empty, negative, non-numeric or absurd are left out rather than guessed, and repeated values
 * resolve to the most careful one (lowest limit and remaining, longest reset). Never throws on
 * header content.
 *
 * @param headers A fetch `Headers` or a plain record (values may be arrays for repeated headers).
 * @param provider Whose header names and meanings to apply.
 * @param now Wall-clock milliseconds that RFC 3339 resets and HTTP-date `retry-after` values are
 *   measured from. @default Date.now()
 * @throws {TypeError} when `provider` is not a known {@link ProviderName}.
 *
 * @example
 * const snapshot = parseRateLimitHeaders(response.headers, 'openai');
 * // { provider: 'openai', requests: { limit: 500, remaining: 499, resetMs: 120, windowMs: 60000 }, ... }
 */
export function parseRateLimitHeaders(
  headers: HeaderSource,
  provider: ProviderName,
  now: number = Date.now(),
): RateLimitSnapshot {
  const spec = providerSpec(provider)?.headers;
  if (spec === undefined) {
    throw new TypeError(
      `Expected \`provider\` to be one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(String(provider))}`,
    );
  }
  const read = createHeaderReader(headers);
  const snapshot: { -readonly [K in keyof RateLimitSnapshot]: RateLimitSnapshot[K] } = { provider };
  for (const [key, names] of Object.entries(spec.limits) as [LimitKey, LimitHeaders][]) {
    const window = readLimit(read, names, spec, now);
    if (window !== undefined) snapshot[key] = window;
  }
  if (spec.combinedTokensSummarise && (snapshot.inputTokens !== undefined || snapshot.outputTokens !== undefined)) {
    delete snapshot.tokens;
  }
  const retryAfterMs = readRetryAfter(read, now);
  if (retryAfterMs !== undefined) snapshot.retryAfterMs = retryAfterMs;
  return snapshot;
}
