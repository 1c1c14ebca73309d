import { describe, expect, it } from 'vitest';
import { formatGoDuration, parseGoDuration } from '../src/providers/go-duration.js';
import { parseRateLimitHeaders } from '../src/providers/headers.js';
import type { ProviderName } from '../src/providers/types.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

describe('parseGoDuration', () => {
  it.each([
    ['1s', 1_000],
    ['6m0s', 360_000],
    ['12ms', 12],
    ['4m12.172s', 252_172],
    ['23h18m29.144s', 83_909_144],
    ['0s', 0],
    ['0', 0],
    ['1.5s', 1_500],
    ['500us', 0.5],
    ['500µs', 0.5],
    ['500μs', 0.5],
    ['1500ns', 0.002],
    ['2h', 7_200_000],
    ['1h0m0s', 3_600_000],
    ['.5s', 500],
    ['+3s', 3_000],
    [' 7.66s ', 7_660],
    ['2m59.56s', 179_560],
  ])('%j -> %j ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each([
    '',
    ' ',
    '-1s',
    '1',
    '60',
    's',
    '1x',
    '1s garbage',
    '1.2.3s',
    'abc',
    '.s',
    '1d',
    'NaN',
    'Infinity',
    `${'9'.repeat(400)}h`,
  ])('garbage %j -> undefined', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  it('never throws on non-strings', () => {
    expect(parseGoDuration(undefined as unknown as string)).toBeUndefined();
    expect(parseGoDuration(5 as unknown as string)).toBeUndefined();
  });

  it.each([
    [0, '0s'],
    [-5, '0s'],
    [12, '12ms'],
    [1_000, '1s'],
    [1_540, '1.54s'],
    [360_000, '6m0s'],
    [252_172, '4m12.172s'],
    [83_909_144, '23h18m29.144s'],
    [3_600_000, '1h0m0s'],
  ])('formatGoDuration(%j) -> %j and parses back', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(Math.max(0, ms));
  });
});

describe('parseRateLimitHeaders: openai, openai-compatible, groq', () => {
  const full = {
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-limit-tokens': '30000',
    'x-ratelimit-remaining-requests': '499',
    'x-ratelimit-remaining-tokens': '29100',
    'x-ratelimit-reset-requests': '120ms',
    'x-ratelimit-reset-tokens': '1.8s',
  };

  it('openai: per-minute requests and tokens', () => {
    expect(parseRateLimitHeaders(full, 'openai')).toEqual({
      provider: 'openai',
      requests: { limit: 500, remaining: 499, resetMs: 120, windowMs: 60_000 },
      tokens: { limit: 30_000, remaining: 29_100, resetMs: 1_800, windowMs: 60_000 },
    });
  });

  it.each<ProviderName>(['openai-compatible', 'azure'])(
    "%s: OpenAI's names, but no window: the headers do not say it, nor does a convention",
    (provider) => {
      const snapshot = parseRateLimitHeaders(full, provider);
      expect(snapshot.requests).toEqual({ limit: 500, remaining: 499, resetMs: 120 });
      expect(snapshot.tokens).toEqual({ limit: 30_000, remaining: 29_100, resetMs: 1_800 });
    },
  );

  it('groq: requests per day, tokens per minute', () => {
    const snapshot = parseRateLimitHeaders(
      { ...full, 'x-ratelimit-limit-requests': '14400', 'x-ratelimit-reset-requests': '2m59.56s' },
      'groq',
    );
    expect(snapshot.requests).toEqual({ limit: 14_400, remaining: 499, resetMs: 179_560, windowMs: 86_400_000 });
    expect(snapshot.tokens?.windowMs).toBe(60_000);
  });

  it('reads a fetch Headers object and ignores header-name case', () => {
    const headers = new Headers({ 'X-RateLimit-Remaining-Requests': '7', 'X-RATELIMIT-RESET-TOKENS': '6m0s' });
    expect(parseRateLimitHeaders(headers, 'openai')).toEqual({
      provider: 'openai',
      requests: { remaining: 7, windowMs: 60_000 },
      tokens: { resetMs: 360_000, windowMs: 60_000 },
    });
    expect(parseRateLimitHeaders({ 'X-Ratelimit-Limit-Requests': '3' }, 'openai').requests).toEqual({
      limit: 3,
      windowMs: 60_000,
    });
  });

  it('no headers: only the provider', () => {
    expect(parseRateLimitHeaders({}, 'openai')).toEqual({ provider: 'openai' });
    expect(parseRateLimitHeaders(new Headers(), 'groq')).toEqual({ provider: 'groq' });
  });

  it.each([
    ['empty', ''],
    ['negative', '-5'],
    ['non-numeric', 'lots'],
    ['hex', '0x10'],
    ['exponent', '1e3'],
    ['huge', '9'.repeat(30)],
    ['infinity', 'Infinity'],
  ])('odd remaining value (%s) is left out', (_label, value) => {
    const snapshot = parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': value }, 'openai');
    expect(snapshot.requests).toBeUndefined();
  });

  it('a limit of 0 is unknown; remaining 0 is real', () => {
    const snapshot = parseRateLimitHeaders(
      { 'x-ratelimit-limit-requests': '0', 'x-ratelimit-remaining-requests': '0' },
      'openai',
    );
    expect(snapshot.requests).toEqual({ remaining: 0, windowMs: 60_000 });
  });

  it('garbage resets are left out; bare seconds are accepted', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-reset-tokens': 'soon' }, 'openai').tokens).toBeUndefined();
    expect(parseRateLimitHeaders({ 'x-ratelimit-reset-tokens': '-1s' }, 'openai').tokens).toBeUndefined();
    expect(parseRateLimitHeaders({ 'x-ratelimit-reset-tokens': '2.5' }, 'openai').tokens?.resetMs).toBe(2_500);
  });

  it('repeated headers (arrays or comma-joined) resolve to the most careful value', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': ['500', '200'],
        'x-ratelimit-remaining-requests': '10, 4, junk',
        'x-ratelimit-reset-requests': ['1s', '3s'],
      },
      'openai',
    );
    expect(snapshot.requests).toEqual({ limit: 200, remaining: 4, resetMs: 3_000, windowMs: 60_000 });
    const joined = new Headers();
    joined.append('x-ratelimit-remaining-tokens', '900');
    joined.append('x-ratelimit-remaining-tokens', '800');
    expect(parseRateLimitHeaders(joined, 'openai').tokens?.remaining).toBe(800);
  });

  it('undefined values and non-string junk in a record are skipped', () => {
    const headers = { 'x-ratelimit-remaining-requests': undefined, 'x-ratelimit-limit-requests': [] as string[] };
    expect(parseRateLimitHeaders(headers, 'openai')).toEqual({ provider: 'openai' });
  });
});

describe('parseRateLimitHeaders: anthropic', () => {
  it('reads requests, input and output limits with RFC 3339 resets measured from now; the combined tokens-* only without them', () => {
    const headers = {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2025-03-01T12:00:01Z',
      'anthropic-ratelimit-tokens-limit': '28000',
      'anthropic-ratelimit-tokens-remaining': '27000',
      'anthropic-ratelimit-tokens-reset': '2025-03-01T12:00:02.500Z',
      'anthropic-ratelimit-input-tokens-limit': '20000',
      'anthropic-ratelimit-input-tokens-remaining': '19000',
      'anthropic-ratelimit-input-tokens-reset': '2025-03-01T13:00:03+01:00',
      'anthropic-ratelimit-output-tokens-limit': '8000',
      'anthropic-ratelimit-output-tokens-remaining': '7000',
      'anthropic-ratelimit-output-tokens-reset': '2025-03-01T12:00:04Z',
    };
    expect(parseRateLimitHeaders(headers, 'anthropic', NOW)).toEqual({
      provider: 'anthropic',
      requests: { limit: 50, remaining: 49, resetMs: 1_000, windowMs: 60_000 },
      inputTokens: { limit: 20_000, remaining: 19_000, resetMs: 3_000, windowMs: 60_000 },
      outputTokens: { limit: 8_000, remaining: 7_000, resetMs: 4_000, windowMs: 60_000 },
    });
    // The combined header is the most restrictive of the limits in force, not a budget of its own.
    const combinedOnly = Object.fromEntries(Object.entries(headers).filter(([name]) => !/input|output/.test(name)));
    expect(parseRateLimitHeaders(combinedOnly, 'anthropic', NOW).tokens).toEqual({
      limit: 28_000,
      remaining: 27_000,
      resetMs: 2_500,
      windowMs: 60_000,
    });
  });

  it.each([
    ['in the past', '2025-03-01T11:59:00Z', 0],
    ['lowercase t and z', '2025-03-01t12:00:05z', 5_000],
    ['not RFC 3339', 'Sat, 01 Mar 2025 12:00:05 GMT', undefined],
    ['a duration', '5s', undefined],
    ['empty', '', undefined],
    ['impossible date', '2025-13-45T99:99:99Z', undefined],
  ])('reset %s', (_label, value, expected) => {
    const snapshot = parseRateLimitHeaders({ 'anthropic-ratelimit-requests-reset': value }, 'anthropic', NOW);
    expect(snapshot.requests?.resetMs).toBe(expected);
  });

  it('uses Date.now() when no `now` is given', () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toISOString();
    const resetMs = parseRateLimitHeaders({ 'anthropic-ratelimit-tokens-reset': inTenSeconds }, 'anthropic').tokens
      ?.resetMs;
    expect(resetMs).toBeGreaterThan(9_000);
    expect(resetMs).toBeLessThanOrEqual(10_000);
  });

  it('ignores OpenAI-style names', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '5' }, 'anthropic')).toEqual({
      provider: 'anthropic',
    });
  });
});

describe('parseRateLimitHeaders: azure', () => {
  it('reads remaining requests and tokens, without a window', () => {
    expect(
      parseRateLimitHeaders(
        { 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-remaining-tokens': '9000' },
        'azure',
      ),
    ).toEqual({ provider: 'azure', requests: { remaining: 59 }, tokens: { remaining: 9_000 } });
  });

  it('treats -1 and 0 in limit and reset headers as unknown', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-tokens': '-1',
        'x-ratelimit-remaining-tokens': '-1',
        'x-ratelimit-reset-tokens': '0',
        'x-ratelimit-limit-requests': '0',
        'x-ratelimit-reset-requests': '0s',
        'x-ratelimit-remaining-requests': '0',
      },
      'azure',
    );
    expect(snapshot).toEqual({ provider: 'azure', requests: { remaining: 0 } });
  });

  it('captures retry-after-ms, x-ms-retry-after-ms and retry-after on a 429', () => {
    expect(parseRateLimitHeaders({ 'retry-after-ms': '1500', 'retry-after': '2' }, 'azure').retryAfterMs).toBe(1_500);
    expect(parseRateLimitHeaders({ 'x-ms-retry-after-ms': '250', 'retry-after': '2' }, 'azure').retryAfterMs).toBe(250);
    expect(parseRateLimitHeaders({ 'retry-after': '86400' }, 'azure').retryAfterMs).toBe(86_400_000);
  });
});

describe('parseRateLimitHeaders: mistral and gemini', () => {
  it('mistral: per-minute requests and tokens, monthly tokens apart', () => {
    expect(
      parseRateLimitHeaders(
        {
          'x-ratelimit-limit-req-minute': '60',
          'x-ratelimit-remaining-req-minute': '58',
          'x-ratelimit-limit-tokens-minute': '500000',
          'x-ratelimit-remaining-tokens-minute': '499000',
          'x-ratelimit-limit-tokens-month': '1000000000',
          'x-ratelimit-remaining-tokens-month': '999000000',
        },
        'mistral',
      ),
    ).toEqual({
      provider: 'mistral',
      requests: { limit: 60, remaining: 58, windowMs: 60_000 },
      tokens: { limit: 500_000, remaining: 499_000, windowMs: 60_000 },
      monthlyTokens: { limit: 1_000_000_000, remaining: 999_000_000 },
    });
  });

  it('gemini: no rate-limit headers, empty snapshot', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '5' }, 'gemini')).toEqual({ provider: 'gemini' });
  });
});

describe('parseRateLimitHeaders: retry-after', () => {
  it.each<[string, Record<string, string | string[]>, number | undefined]>([
    ['seconds', { 'retry-after': '20' }, 20_000],
    ['decimal seconds', { 'retry-after': '1.5' }, 1_500],
    ['ms header wins', { 'retry-after-ms': '120', 'retry-after': '20' }, 120],
    ['HTTP date', { 'retry-after': 'Sat, 01 Mar 2025 12:00:30 GMT' }, 30_000],
    ['HTTP date in the past', { 'retry-after': 'Sat, 01 Mar 2025 11:00:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'later' }, undefined],
    ['bare year-ish number is seconds, not a date', { 'retry-after': '2' }, 2_000],
    ['negative', { 'retry-after': '-3' }, undefined],
    ['garbage ms falls back to seconds', { 'retry-after-ms': 'x', 'retry-after': '3' }, 3_000],
    ['repeated: the longest', { 'retry-after': ['1', '4'] }, 4_000],
    ['comma-joined', { 'retry-after': '1, 4' }, 4_000],
    ['Retry-After capitalised', { 'Retry-After': '7' }, 7_000],
  ])('%s', (_label, headers, expected) => {
    expect(parseRateLimitHeaders(headers, 'openai', NOW).retryAfterMs).toBe(expected);
  });
});

describe('parseRateLimitHeaders: misuse', () => {
  it('throws a TypeError naming the option for an unknown provider', () => {
    expect(() => parseRateLimitHeaders({}, 'bedrock' as ProviderName)).toThrow(TypeError);
    expect(() => parseRateLimitHeaders({}, 'bedrock' as ProviderName)).toThrow(/`provider`.*"bedrock"/);
    expect(() => parseRateLimitHeaders({}, 'toString' as ProviderName)).toThrow(TypeError);
  });

  it('never throws on odd header containers', () => {
    expect(parseRateLimitHeaders(null as unknown as Headers, 'openai')).toEqual({ provider: 'openai' });
    expect(
      parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': 5 as unknown as string }, 'openai').requests,
    ).toEqual({ remaining: 5, windowMs: 60_000 });
  });
});
