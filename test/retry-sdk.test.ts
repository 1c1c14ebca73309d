import util from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryError } from '../src/core/errors.js';
import type { RetryEvent } from '../src/core/events.js';
import { classifyFailure } from '../src/feedback/classify.js';
import { retry } from '../src/retry/retry.js';
import { startScriptedServer, type ScriptedServer, type Step } from './retry-helpers.js';

const OPENAI_KEY = 'sk-test-SECRET123';
const ANTHROPIC_KEY = 'sk-ant-test-SECRET456';

let server: ScriptedServer;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  server = await startScriptedServer();
  // maxRetries: 0, so every attempt is ours and a failure reaches us at once.
  openai = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
});

const chat = (signal?: AbortSignal) =>
  openai.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    signal ? { signal } : {},
  );
const message = (signal?: AbortSignal) =>
  anthropic.messages.create(
    { model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    signal ? { signal } : {},
  );

async function thrownBy(steps: readonly Step[], call: () => Promise<unknown>): Promise<unknown> {
  server.script(steps);
  return call().then(
    () => {
      throw new Error('expected the SDK call to fail');
    },
    (error: unknown) => error,
  );
}

/** Every way a RetryError is commonly shown or shipped. */
function renderings(error: RetryError): string[] {
  return [
    error.message,
    String(error.stack),
    JSON.stringify(error),
    util.inspect(error, { depth: 10 }),
    util.inspect(error, { depth: 10, showHidden: true }),
    ...error.errors.map((e) => util.inspect(e, { depth: 10, showHidden: true })),
    util.inspect(error.cause, { depth: 10 }),
  ];
}

function expectNoKey(error: RetryError): void {
  for (const text of renderings(error)) {
    expect(text).not.toContain('SECRET123');
    expect(text).not.toContain('SECRET456');
  }
}

const openaiOk: Step = {
  status: 200,
  body: {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 0,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  },
};

describe('errors thrown by the openai package', () => {
  it('429 with retry-after: rate-limited, delay read from the Headers object', async () => {
    const error = await thrownBy(
      [
        {
          status: 429,
          headers: { 'retry-after': '2' },
          body: {
            error: {
              message: 'Rate limit reached. Please try again in 1.54s.',
              type: 'requests',
              code: 'rate_limit_exceeded',
            },
          },
        },
      ],
      () => chat(),
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(classifyFailure(error)).toEqual({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
      retryAfterMs: 2_000,
      code: 'rate_limit_exceeded',
    });
  });

  it('insufficient_quota and "Request too large" are never retried', async () => {
    const quota = await thrownBy(
      [
        {
          status: 429,
          body: {
            error: {
              message: 'You exceeded your current quota',
              type: 'insufficient_quota',
              code: 'insufficient_quota',
            },
          },
        },
      ],
      () => chat(),
    );
    expect(classifyFailure(quota)).toMatchObject({
      retryable: false,
      reason: 'insufficient-quota',
      code: 'insufficient_quota',
    });
    const tooLarge = await thrownBy(
      [
        {
          status: 429,
          headers: { 'retry-after': '1' },
          body: {
            error: {
              message:
                'Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 90000.',
              type: 'tokens',
              code: 'rate_limit_exceeded',
            },
          },
        },
      ],
      () => chat(),
    );
    expect(classifyFailure(tooLarge)).toMatchObject({ retryable: false, reason: 'request-too-large' });
  });

  it('400 is not retried; a connection reset is', async () => {
    const bad = await thrownBy(
      [{ status: 400, body: { error: { message: 'Invalid value for model', type: 'invalid_request_error' } } }],
      () => chat(),
    );
    expect(classifyFailure(bad)).toMatchObject({ retryable: false, reason: 'http-error', status: 400 });
    const reset = await thrownBy([{ reset: true }], () => chat());
    expect(reset).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyFailure(reset)).toMatchObject({ retryable: true, reason: 'connection' });
  });

  it('an abort by the caller is not retried', async () => {
    const error = await thrownBy([{ hang: true }], () => chat(AbortSignal.abort()));
    expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(classifyFailure(error)).toEqual({ retryable: false, reason: 'aborted' });
  });

  it('retry() around the client: retries a 429 and a 500, then returns the completion', async () => {
    server.script([
      {
        status: 429,
        headers: { 'retry-after-ms': '30' },
        body: { error: { message: 'slow down', code: 'rate_limit_exceeded' } },
      },
      { status: 500, body: { error: { message: 'oops' } } },
      openaiOk,
    ]);
    const events: RetryEvent[] = [];
    const completion = await retry(({ signal }) => chat(signal), {
      baseDelayMs: 10,
      onRetry: (e) => void events.push(e),
    });
    expect(completion.choices[0]?.message.content).toBe('hello');
    expect(events.map((e) => [e.reason, e.attempt])).toEqual([
      ['rate-limited', 1],
      ['server-error', 2],
    ]);
    expect(events[0]?.delayMs).toBe(30);
    // The SDK's own retries are off: one request per attempt.
    expect(server.arrivals).toHaveLength(3);
  });

  it('never lets the API key into a RetryError, even when the server echoes it', async () => {
    server.script([
      {
        status: 401,
        body: {
          error: {
            message: `Incorrect API key provided: ${OPENAI_KEY}. You can find your API key at https://platform.openai.com.`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        },
      },
    ]);
    const error = (await retry(({ signal }) => chat(signal)).catch((e: unknown) => e)) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.status).toBe(401);
    // The key was really sent (so this test proves something), and the redacted copy keeps its class.
    expect(server.requestHeaders[0]?.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(error.cause).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error.cause as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expectNoKey(error);

    server.script([
      { status: 503, headers: { 'set-cookie': 'session=abc' } },
      { reset: true },
      {
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: { code: 'insufficient_quota', message: 'quota' } },
      },
    ]);
    const events: RetryEvent[] = [];
    const mixed = (await retry(({ signal }) => chat(signal), {
      baseDelayMs: 5,
      onRetry: (e) => void events.push(e),
    }).catch((e: unknown) => e)) as RetryError;
    expect(mixed.attempts).toBe(3);
    expectNoKey(mixed);
    expect(events).toHaveLength(2);
    expect(util.inspect(events, { depth: 10, showHidden: true })).not.toContain('SECRET123');
  });
});

describe('errors thrown by the @anthropic-ai/sdk package', () => {
  it('529 overloaded is retried (this call only)', async () => {
    const error = await thrownBy(
      [{ status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } }],
      () => message(),
    );
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(classifyFailure(error)).toEqual({ retryable: true, reason: 'overloaded', status: 529 });
  });

  it('429 with retry-after is rate-limited; the enforced spend limit is not retried', async () => {
    const limited = await thrownBy(
      [
        {
          status: 429,
          headers: { 'retry-after': '3' },
          body: {
            type: 'error',
            error: {
              type: 'rate_limit_error',
              message: 'Number of request tokens has exceeded your per-minute rate limit',
            },
          },
        },
      ],
      () => message(),
    );
    expect(classifyFailure(limited)).toEqual({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
      retryAfterMs: 3_000,
    });
    const spend = await thrownBy(
      [
        {
          status: 429,
          body: {
            type: 'error',
            error: {
              type: 'rate_limit_error',
              message: 'You have reached your specified API usage limits.',
              details: { error_code: 'enforced_spend_limit_reached' },
            },
          },
        },
      ],
      () => message(),
    );
    expect(classifyFailure(spend)).toEqual({
      retryable: false,
      reason: 'spend-limit',
      status: 429,
      code: 'enforced_spend_limit_reached',
    });
  });

  it('400 is not retried; a connection reset is', async () => {
    const bad = await thrownBy(
      [
        {
          status: 400,
          body: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } },
        },
      ],
      () => message(),
    );
    expect(classifyFailure(bad)).toMatchObject({ retryable: false, reason: 'http-error', status: 400 });
    const reset = await thrownBy([{ reset: true }], () => message());
    expect(reset).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(classifyFailure(reset)).toMatchObject({ retryable: true, reason: 'connection' });
  });

  it('never lets the API key into a RetryError', async () => {
    server.script([
      { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } },
      {
        status: 401,
        body: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${ANTHROPIC_KEY}` } },
      },
    ]);
    const error = (await retry(({ signal }) => message(signal), { baseDelayMs: 5 }).catch(
      (e: unknown) => e,
    )) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(2);
    // This SDK version sends the key as `Authorization: Bearer`; older ones as `x-api-key`.
    const sent = server.requestHeaders[0];
    expect(`${sent?.['x-api-key'] ?? ''} ${sent?.authorization ?? ''}`).toContain(ANTHROPIC_KEY);
    expect(error.cause).toBeInstanceOf(Anthropic.AuthenticationError);
    expectNoKey(error);
  });
});
