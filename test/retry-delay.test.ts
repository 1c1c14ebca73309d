import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from '../src/retry/backoff.js';
import {
  parseProtobufDuration,
  retryDelayFromBody,
  retryDelayFromHeaders,
  retryDelayFromMessage,
} from '../src/feedback/server-delay.js';

describe('fullJitterDelay', () => {
  it('stays within [0, min(maxDelayMs, baseDelayMs * 2^(attempt - 1))] and is whole', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseDelayMs, maxDelayMs, r) => {
          const delay = fullJitterDelay(attempt, { baseDelayMs, maxDelayMs, random: () => r });
          const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 1_000));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('covers the whole interval: 0 at random 0, the ceiling near random 1', () => {
    const o = { baseDelayMs: 1_000, maxDelayMs: 60_000 };
    expect(fullJitterDelay(1, { ...o, random: () => 0 })).toBe(0);
    expect(fullJitterDelay(1, { ...o, random: () => 0.999_999 })).toBe(1_000);
    expect(fullJitterDelay(3, { ...o, random: () => 0.999_999 })).toBe(4_000);
    // The cap applies after doubling, and huge attempt numbers do not overflow to NaN.
    expect(fullJitterDelay(10, { ...o, random: () => 0.999_999 })).toBe(60_000);
    expect(fullJitterDelay(100_000, { ...o, random: () => 0.5 })).toBe(30_000);
    expect(fullJitterDelay(5, { baseDelayMs: 0, maxDelayMs: 60_000, random: () => 0.5 })).toBe(0);
  });

  it('rejects a random source that leaves [0, 1)', () => {
    expect(() => fullJitterDelay(1, { baseDelayMs: 1, maxDelayMs: 1, random: () => 2 })).toThrow(/random\(\)/);
    expect(() => fullJitterDelay(1, { baseDelayMs: 1, maxDelayMs: 1, random: () => Number.NaN })).toThrow(RangeError);
  });
});

describe('retryDelayFromHeaders', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads retry-after-ms, x-ms-retry-after-ms and retry-after, in that order', () => {
    expect(retryDelayFromHeaders(new Headers({ 'retry-after-ms': '400' }), now)).toBe(400);
    expect(retryDelayFromHeaders(new Headers({ 'x-ms-retry-after-ms': '1500' }), now)).toBe(1_500);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '2' }), now)).toBe(2_000);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '3', 'retry-after-ms': '250' }), now)).toBe(250);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '3', 'x-ms-retry-after-ms': '2900' }), now)).toBe(2_900);
  });

  it('turns an HTTP date into a delay from the wall clock, and a past date into 0', () => {
    expect(retryDelayFromHeaders({ 'Retry-After': 'Wed, 01 Jan 2025 00:00:07 GMT' }, now)).toBe(7_000);
    expect(retryDelayFromHeaders({ 'Retry-After': 'Tue, 31 Dec 2024 23:59:00 GMT' }, now)).toBe(0);
    // Without `now`, Date.now() is used: the one place wall-clock time is right.
    const inFive = new Date(Date.now() + 5_000).toUTCString();
    const delay = retryDelayFromHeaders({ 'retry-after': inFive });
    expect(delay).toBeGreaterThan(3_000);
    expect(delay).toBeLessThanOrEqual(5_000);
  });

  it('reads plain records case-insensitively and ignores garbage', () => {
    expect(retryDelayFromHeaders({ 'RETRY-AFTER-MS': '12' }, now)).toBe(12);
    expect(retryDelayFromHeaders({ 'retry-after-ms': ['bad', '30'] }, now)).toBe(30);
    expect(retryDelayFromHeaders({ 'retry-after': '-5' }, now)).toBeUndefined();
    expect(retryDelayFromHeaders({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryDelayFromHeaders({ 'retry-after-ms': '' }, now)).toBeUndefined();
    expect(retryDelayFromHeaders(undefined, now)).toBeUndefined();
    expect(retryDelayFromHeaders({}, now)).toBeUndefined();
  });
});

describe('Gemini RetryInfo', () => {
  it('parses protobuf durations', () => {
    expect(parseProtobufDuration('26s')).toBe(26_000);
    expect(parseProtobufDuration('3.5s')).toBe(3_500);
    expect(parseProtobufDuration('0.000001s')).toBeCloseTo(0.001, 6);
    expect(parseProtobufDuration({ seconds: '2', nanos: 500_000_000 })).toBe(2_500);
    expect(parseProtobufDuration('26')).toBeUndefined();
    expect(parseProtobufDuration('-1s')).toBeUndefined();
    expect(parseProtobufDuration(null)).toBeUndefined();
  });

  it('finds retryDelay in error.details[]', () => {
    const body = {
      error: {
        code: 429,
        message: 'You exceeded your current quota. Please retry in 26.5s.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '26s' },
        ],
      },
    };
    expect(retryDelayFromBody(body)).toBe(26_000);
    expect(retryDelayFromBody([body])).toBe(26_000);
    expect(retryDelayFromBody({ error: { details: [] } })).toBeUndefined();
    expect(retryDelayFromBody('text')).toBeUndefined();
  });
});

describe('retryDelayFromMessage', () => {
  it('reads OpenAI, Azure and Gemini phrasings', () => {
    expect(retryDelayFromMessage('Rate limit reached for gpt-4o. Please try again in 1.54s. Visit ...')).toBe(1_540);
    expect(retryDelayFromMessage('Please try again in 20ms.')).toBe(20);
    expect(retryDelayFromMessage('Please try again in 6m0s.')).toBe(360_000);
    expect(retryDelayFromMessage('Please try again in 1m30.5s')).toBe(90_500);
    expect(retryDelayFromMessage('Please retry after 86400 seconds.')).toBe(86_400_000);
    expect(retryDelayFromMessage('Try again in 2 seconds')).toBe(2_000);
    expect(retryDelayFromMessage('Please retry in 26.594403645s.')).toBeCloseTo(26_594.4, 0);
    expect(retryDelayFromMessage('retry after 500 ms')).toBe(500);
    expect(retryDelayFromMessage('Please try again in a few minutes')).toBeUndefined();
    expect(retryDelayFromMessage('Request too large for gpt-4o')).toBeUndefined();
  });
});
