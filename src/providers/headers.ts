import { createHeaderReader, type HeaderReader, type HeaderSource } from './header-reader.js';
import {
  parseDurationReset,
  parseNonNegative,
  parseRetryAfter,
  parseRfc3339Reset,
  pick,
  splitValues,
} from './header-values.js';
import { PROVIDER_NAMES, type ProviderName, type RateLimitSnapshot, type RateLimitWindowSnapshot } from './types.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

type LimitKey = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens' | 'monthlyTokens';

/** Where one limit's headers live under a provider's conventions. */
interface LimitHeaders {
  readonly limit?: string;
  readonly remaining?: string;
  readonly reset?: string;
  readonly windowMs?: number;
}

interface ProviderHeaders {
  readonly limits: Partial<Record<LimitKey, LimitHeaders>>;
  readonly reset: 'duration' | 'rfc3339';
  /** Azure sends `-1` and `0` in limit and reset headers when it does not know. */
  readonly zeroIsUnknown: boolean;
  /**
   * Anthropic's `tokens-*` headers are not a budget of their own but the most restrictive of the
   * input and output limits in force (e.g. the 8,000 OTPM): read as one budget charged input plus
   * output, they would refuse a request that fits both real limits. Left out when the separate
   * input and output headers are there.
   */
  readonly combinedTokensSummarise?: true;
}

function openAiStyle(
  requestsWindowMs: number | undefined,
  tokensWindowMs: number | undefined,
): ProviderHeaders['limits'] {
  const names = (kind: string, windowMs: number | undefined): LimitHeaders => ({
    limit: `x-ratelimit-limit-${kind}`,
    remaining: `x-ratelimit-remaining-${kind}`,
    reset: `x-ratelimit-reset-${kind}`,
    ...(windowMs === undefined ? {} : { windowMs }),
  });
  return { requests: names('requests', requestsWindowMs), tokens: names('tokens', tokensWindowMs) };
}

function anthropicStyle(): ProviderHeaders['limits'] {
  const names = (kind: string): LimitHeaders => ({
    limit: `anthropic-ratelimit-${kind}-limit`,
    remaining: `anthropic-ratelimit-${kind}-remaining`,
    reset: `anthropic-ratelimit-${kind}-reset`,
    windowMs: MINUTE,
  });
  return {
    requests: names('requests'),
    tokens: names('tokens'),
    inputTokens: names('input-tokens'),
    outputTokens: names('output-tokens'),
  };
}

const OPENAI: ProviderHeaders = { limits: openAiStyle(MINUTE, MINUTE), reset: 'duration', zeroIsUnknown: false };

const PROVIDERS: Readonly<Record<ProviderName, ProviderHeaders>> = {
  openai: OPENAI,
  'openai-compatible': OPENAI,
  // Groq reuses OpenAI's names, but its request headers count per day.
  groq: { limits: openAiStyle(DAY, MINUTE), reset: 'duration', zeroIsUnknown: false },
  anthropic: { limits: anthropicStyle(), reset: 'rfc3339', zeroIsUnknown: false, combinedTokensSummarise: true },
  // Azure checks its per-minute quota over 1 s or 10 s intervals, so the window of a "remaining"
  // value is not knowable from the response: leave `windowMs` out rather than guess.
  azure: { limits: openAiStyle(undefined, undefined), reset: 'duration', zeroIsUnknown: true },
  mistral: {
    limits: {
      requests: {
        limit: 'x-ratelimit-limit-req-minute',
        remaining: 'x-ratelimit-remaining-req-minute',
        windowMs: MINUTE,
      },
      tokens: {
        limit: 'x-ratelimit-limit-tokens-minute',
        remaining: 'x-ratelimit-remaining-tokens-minute',
        windowMs: MINUTE,
      },
      monthlyTokens: { limit: 'x-ratelimit-limit-tokens-month', remaining: 'x-ratelimit-remaining-tokens-month' },
    },
    reset: 'duration',
    zeroIsUnknown: false,
  },
  gemini: { limits: {}, reset: 'duration', zeroIsUnknown: false },
};

function readLimit(
  read: HeaderReader,
  names: LimitHeaders,
  spec: ProviderHeaders,
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
      values.map((v) => (spec.reset === 'rfc3339' ? parseRfc3339Reset(v, now) : parseDurationReset(v))),
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
  const spec = PROVIDERS[provider];
  if (!Object.hasOwn(PROVIDERS, provider) || spec === undefined) {
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
