import { describe, expect, it } from 'vitest';
import { Limiter, LimiterRegistry, createLimitedFetch } from '../src/index.js';
import type { LimitedFetchOptions } from '../src/index.js';

// Every option is checked when the fetch is created: nothing is sent here.
const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
const base = { limiter, provider: 'openai' } as const;
const create = (extra: Record<string, unknown>) => () =>
  createLimitedFetch({ ...base, ...extra } as unknown as LimitedFetchOptions);

describe('createLimitedFetch validates every option at creation', () => {
  const bad: readonly [string, Record<string, unknown>, ErrorConstructor, RegExp][] = [
    [
      'limiter',
      { limiter: {} },
      TypeError,
      /^Expected `limiter` to be a Limiter or a LimiterRegistry, got `object` \(object\)$/,
    ],
    ['limiter (missing)', { limiter: undefined }, TypeError, /`limiter`.*got `undefined`/],
    [
      'provider',
      { provider: 'openia' },
      RangeError,
      /^Expected `provider` to be one of 'openai', .*'vllm', got `"openia"` \(string\)$/,
    ],
    ['provider (not a string)', { provider: 7 }, TypeError, /`provider`.*got `7` \(number\)/],
    ['fetch', { fetch: 'fetch' }, TypeError, /^Expected `fetch` to be a function, got `"fetch"` \(string\)$/],
    [
      'retry',
      { retry: 'yes' },
      TypeError,
      /^Expected `retry` to be true, false or an object of retry options, got `"yes"`/,
    ],
    [
      'retry.maxAttempts',
      { retry: { maxAttempts: 0 } },
      RangeError,
      /^Expected `retry.maxAttempts` to be a positive integer, got `0` \(number\)$/,
    ],
    ['retry.baseDelayMs', { retry: { baseDelayMs: -1 } }, RangeError, /`retry.baseDelayMs`.*got `-1`/],
    [
      'retry.attemptTimeoutMs',
      { retry: { attemptTimeoutMs: Number.NaN } },
      RangeError,
      /`retry.attemptTimeoutMs`.*got `NaN`/,
    ],
    ['retry.onRetry', { retry: { onRetry: 1 } }, TypeError, /^Expected `retry.onRetry` to be a function, got `1`/],
    ['retry.budget', { retry: { budget: {} } }, TypeError, /`retry.budget.tryWithdraw`/],
    [
      'retry (unknown key)',
      { retry: { maxAttempt: 3 } },
      TypeError,
      /^Unknown option `maxAttempt` in `retry`; expected one of: maxAttempts, /,
    ],
    ['retry.limiter', { retry: { limiter } }, TypeError, /^Unexpected `retry.limiter`/],
    ['retry.fallback', { retry: { fallback: null } }, TypeError, /^Unexpected `retry.fallback`/],
    ['retry.signal', { retry: { signal: new AbortController().signal } }, TypeError, /^Unexpected `retry.signal`/],
    ['retry.acquire', { retry: { acquire: {} } }, TypeError, /^Unexpected `retry.acquire`/],
    ['estimate', { estimate: 'fast' }, TypeError, /^Expected `estimate` to be a function or an object .*got `"fast"`/],
    ['estimate (array)', { estimate: [] }, TypeError, /`estimate`.*got `array\(0\)`/],
    [
      'estimate.mode',
      { estimate: { mode: 'bogus' } },
      RangeError,
      /^Expected `estimate.mode` to be "tiktoken" or "fast", got `"bogus"` \(string\)$/,
    ],
    ['estimate.mode (not a string)', { estimate: { mode: 1 } }, TypeError, /`estimate.mode`.*got `1`/],
    [
      'estimate.outputReservation',
      { estimate: { outputReservation: Number.NaN } },
      RangeError,
      /^Expected `estimate.outputReservation` to be a non-negative integer, got `NaN` \(number\)$/,
    ],
    [
      'estimate.outputReservation (fraction)',
      { estimate: { outputReservation: 1.5 } },
      RangeError,
      /`estimate.outputReservation`.*got `1.5`/,
    ],
    ['estimate (unknown key)', { estimate: { mod: 'fast' } }, TypeError, /^Unknown option `mod` in `estimate`/],
    ['sync', { sync: 'no' }, TypeError, /^Expected `sync` to be true or false, got `"no"` \(string\)$/],
    [
      'countFrom',
      { countFrom: 'arrival' },
      RangeError,
      /^Expected `countFrom` to be one of 'sent', 'response', 'admission', got `"arrival"` \(string\)$/,
    ],
    ['countFrom (not a string)', { countFrom: true }, TypeError, /`countFrom`.*got `true` \(boolean\)/],
    [
      'maxCountDelayMs',
      { maxCountDelayMs: -5 },
      RangeError,
      /^Expected `maxCountDelayMs` to be a non-negative finite number, got `-5`/,
    ],
    ['maxCountDelayMs (string)', { maxCountDelayMs: '2000' }, TypeError, /`maxCountDelayMs`.*got `"2000"`/],
    [
      'priority',
      { priority: Number.POSITIVE_INFINITY },
      RangeError,
      /^Expected `priority` to be a finite number, got `Infinity`/,
    ],
    [
      'acquireTimeoutMs',
      { acquireTimeoutMs: -1 },
      RangeError,
      /^Expected `acquireTimeoutMs` to be a non-negative finite number, got `-1`/,
    ],
    [
      'rateLimitPauseMs',
      { rateLimitPauseMs: Number.NaN },
      RangeError,
      /^Expected `rateLimitPauseMs` to be a non-negative finite number, got `NaN`/,
    ],
    [
      'an unknown option',
      { retries: 3 },
      TypeError,
      /^Unknown option `retries` in createLimitedFetch options; expected one of: limiter, /,
    ],
  ];
  for (const [name, extra, type, message] of bad) {
    it(`throws at creation for a bad ${name}`, () => {
      const thrown = (() => {
        try {
          create(extra)();
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(thrown).toBeInstanceOf(type);
      expect((thrown as Error).message).toMatch(message);
    });
  }

  it('throws for options that are not an object', () => {
    expect(() => createLimitedFetch(null as unknown as LimitedFetchOptions)).toThrow(TypeError);
  });

  it('accepts every good value', () => {
    const good: Record<string, unknown>[] = [
      {},
      { limiter: new LimiterRegistry() },
      ...['openai', 'openai-compatible', 'anthropic', 'azure', 'groq', 'mistral', 'gemini'].map((provider) => ({
        provider,
      })),
      { fetch: (input: unknown) => fetch(input as string) },
      { fetch: undefined },
      { retry: true },
      { retry: false },
      { retry: undefined },
      { retry: {} },
      {
        retry: {
          maxAttempts: 3,
          baseDelayMs: 0,
          maxDelayMs: 1_000,
          maxRetryAfterMs: 5_000,
          attemptTimeoutMs: 10_000,
          deadlineMs: 60_000,
          shouldRetry: () => undefined,
          onRetry: () => undefined,
          random: () => 0.5,
        },
      },
      { estimate: () => 10 },
      { estimate: {} },
      { estimate: { mode: 'fast' } },
      { estimate: { mode: 'tiktoken', outputReservation: 0 } },
      { estimate: { mode: undefined, outputReservation: 256 } },
      { sync: true },
      { sync: false },
      { countFrom: 'response' },
      { countFrom: 'admission' },
      { maxCountDelayMs: 0 },
      { maxCountDelayMs: 5_000 },
      { priority: -3 },
      { priority: 2.5 },
      { acquireTimeoutMs: 0 },
      { acquireTimeoutMs: 30_000 },
      { rateLimitPauseMs: 0 },
      { rateLimitPauseMs: 2_000 },
    ];
    for (const extra of good) expect(create(extra), JSON.stringify(extra)).not.toThrow();
    expect(typeof create({ retry: { maxAttempts: 2 }, estimate: { mode: 'fast' } })()).toBe('function');
  });

  it('a bad option fails at creation, before any request is sent', async () => {
    let sent = 0;
    const counting = async () => {
      sent++;
      return new Response('{}');
    };
    expect(create({ fetch: counting, retry: { maxAttempts: 0 } })).toThrow(/`retry.maxAttempts`/);
    expect(sent).toBe(0);
    // A good one sends.
    const limited = create({ fetch: counting, retry: { maxAttempts: 1 }, sync: false, estimate: { mode: 'fast' } })();
    await (await limited('http://127.0.0.1:9/v1/chat/completions', { method: 'POST', body: '{}' })).text();
    expect(sent).toBe(1);
  });

  it('estimate.outputReservation is what a body without a maximum is charged', async () => {
    const own = new Limiter({ tokens: { limit: 100_000, windowMs: 60_000 } });
    const charged: number[] = [];
    own.on('acquired', (e) => charged.push(e.output));
    const limited = createLimitedFetch({
      limiter: own,
      provider: 'openai',
      sync: false,
      estimate: { mode: 'fast', outputReservation: 77 },
      fetch: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }),
    });
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await (await limited('http://127.0.0.1:9/v1/chat/completions', { method: 'POST', body })).text();
    expect(charged).toEqual([77]);
  });
});
