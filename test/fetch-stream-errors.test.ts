import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StreamError } from '../src/providers/stream-error.js';
import { Limiter, createLimitedFetch } from '../src/index.js';
import { StreamEventWatcher } from '../src/providers/stream-events.js';
import { classifyFailure } from '../src/feedback/classify.js';

/** What the scripted server does with one request: writes SSE chunks (with pauses between them). */
type Script = readonly (string | number)[];

let server: http.Server;
let baseURL: string;
let scripts: Script[] = [];
let arrivals: number[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      arrivals.push(performance.now());
      const script = scripts.shift() ?? [];
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const step of script) {
        if (typeof step === 'number') await new Promise((resolve) => setTimeout(resolve, step));
        else res.write(step);
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  scripts = [];
  arrivals = [];
});

const sse = (event: string | undefined, data: unknown): string =>
  `${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

// Anthropic's wire format.
const messageStart = sse('message_start', {
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-x',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 1 },
  },
});
const ping = sse('ping', { type: 'ping' });
const blockStart = sse('content_block_start', {
  type: 'content_block_start',
  index: 0,
  content_block: { type: 'text', text: '' },
});
const delta = (text: string) =>
  sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
const finish = [
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 7 },
  }),
  sse('message_stop', { type: 'message_stop' }),
];
const anthropicError = (type: string, message: string) => sse('error', { type: 'error', error: { type, message } });
const anthropicOk: Script = [messageStart, blockStart, ping, delta('Hello'), delta(' there'), ...finish];

// OpenAI chat chunks.
const chunk = (content: string | undefined, extra: Record<string, unknown> = {}) =>
  sse(undefined, {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: content === undefined ? { role: 'assistant' } : { content }, finish_reason: null }],
    ...extra,
  });
const done = 'data: [DONE]\n\n';

function anthropicClient(limiter: Limiter, retry: boolean | object = false): Anthropic {
  return new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL,
    maxRetries: 0,
    fetch: createLimitedFetch({ limiter, provider: 'anthropic', retry: retry === true ? { baseDelayMs: 5 } : retry }),
  });
}

const params = { model: 'claude-x', max_tokens: 50, messages: [{ role: 'user' as const, content: 'hi' }] };

function idle(limiter: Limiter): Promise<void> {
  const stats = limiter.stats();
  if (stats.inFlight === 0 && stats.queued === 0) return Promise.resolve();
  return new Promise((resolve) => limiter.once('idle', resolve));
}

describe('an Anthropic error event before any content', () => {
  it('is retried (overloaded) and the second attempt succeeds, with the real SDK', async () => {
    scripts = [[messageStart, ping, anthropicError('overloaded_error', 'Overloaded')], anthropicOk];
    const limiter = new Limiter({
      inputTokens: { limit: 100_000, windowMs: 60_000 },
      outputTokens: { limit: 100_000, windowMs: 60_000 },
    });
    const retries: string[] = [];
    limiter.on('retry', (e) => retries.push(e.reason));
    const client = anthropicClient(limiter, true);
    const stream = await client.messages.create({ ...params, stream: true });
    let text = '';
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    expect(text).toBe('Hello there');
    expect(arrivals).toHaveLength(2);
    expect(retries).toEqual(['overloaded']);
    await idle(limiter);
    // The failed attempt is charged what its stream reported (message_start), the second its usage.
    expect(limiter.stats().inputTokens[0]?.used).toBe(24);
    expect(limiter.stats().outputTokens[0]?.used).toBe(1 + 7);
  });

  it('messages.stream() also gets the retried stream', async () => {
    scripts = [[messageStart, anthropicError('api_error', 'Internal server error')], anthropicOk];
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
    const message = await anthropicClient(limiter, true).messages.stream(params).finalMessage();
    expect(message.content).toMatchObject([{ type: 'text', text: 'Hello there' }]);
    expect(arrivals).toHaveLength(2);
  });

  it('without retry, the SDK reads the stream as it came and throws its own error, which classifyFailure retries', async () => {
    scripts = [
      [messageStart, ping, anthropicError('rate_limit_error', 'Number of requests has exceeded your rate limit')],
    ];
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
    const paused: number[] = [];
    limiter.on('rateLimited', (e) => paused.push(e.pauseMs));
    const stream = await anthropicClient(limiter).messages.create({ ...params, stream: true });
    const error = await (async () => {
      for await (const _ of stream) {
        // nothing arrives before the error
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBeUndefined();
    expect(classifyFailure(error)).toMatchObject({ retryable: true, reason: 'rate-limited', status: 429 });
    // A rate limit pauses the limiter as a 429 naming no delay does (rateLimitPauseMs, 1000).
    expect(paused).toEqual([1_000]);
    expect(limiter.stats().pausedForMs).toBeGreaterThan(0);
    await idle(limiter);
  });
});

describe('an Anthropic error event after content', () => {
  it("errors the caller's iteration with a StreamError, after the content that came", async () => {
    scripts = [[messageStart, blockStart, delta('Hel'), 20, anthropicError('overloaded_error', 'Overloaded')]];
    const limiter = new Limiter({
      inputTokens: { limit: 100_000, windowMs: 60_000 },
      outputTokens: { limit: 100_000, windowMs: 60_000 },
    });
    const stream = await anthropicClient(limiter, true).messages.create({ ...params, stream: true });
    let text = '';
    const error = await (async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      }
    })().catch((e: unknown) => e);
    expect(text).toBe('Hel');
    expect(error).toBeInstanceOf(StreamError);
    const streamError = error as StreamError;
    expect(streamError.name).toBe('StreamError');
    expect(streamError).toMatchObject({ kind: 'overloaded', status: 529, code: 'overloaded_error' });
    expect(classifyFailure(error)).toMatchObject({ retryable: true, reason: 'overloaded', status: 529 });
    // Not retried: content had reached the caller.
    expect(arrivals).toHaveLength(1);
    await idle(limiter);
    expect(limiter.stats().inputTokens[0]?.used).toBe(12);
  });

  it('messages.stream() wraps it, with the StreamError as cause', async () => {
    scripts = [[messageStart, blockStart, delta('Hel'), 20, anthropicError('rate_limit_error', 'Slow down')]];
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
    const rateLimited: unknown[] = [];
    limiter.on('rateLimited', (e) => rateLimited.push(e));
    const error = await anthropicClient(limiter)
      .messages.stream(params)
      .finalMessage()
      .catch((e: unknown) => e);
    expect((error as Error).cause).toBeInstanceOf(StreamError);
    expect(classifyFailure((error as Error).cause)).toMatchObject({ retryable: true, reason: 'rate-limited' });
    expect(rateLimited).toEqual([{ status: 429, retryAfterMs: undefined, pauseMs: 1_000 }]);
    expect(JSON.stringify(error)).not.toContain('sk-ant-test');
  });
});

describe('an OpenAI-compatible stream with data: {"error": ...}', () => {
  const openai = (limiter: Limiter, retry: object | undefined, extra: object = {}) =>
    new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${baseURL}/v1`,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter, provider: 'openai-compatible', retry, ...extra }),
    });
  const create = (client: OpenAI) =>
    client.chat.completions.create({
      model: 'some/model',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 20,
      stream: true,
    });

  it('a 429 before content pauses the limiter for everyone and is retried', async () => {
    scripts = [
      [chunk(undefined), sse(undefined, { error: { code: 429, message: 'Rate limit exceeded: slow down' } })],
      [chunk(undefined), chunk('Hi'), chunk('!'), done],
    ];
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
    const paused: number[] = [];
    limiter.on('paused', (e) => paused.push(e.ms));
    const rateLimited: unknown[] = [];
    limiter.on('rateLimited', (e) => rateLimited.push(e));
    const client = openai(limiter, { baseDelayMs: 1 }, { rateLimitPauseMs: 150 });
    let text = '';
    for await (const part of await create(client)) text += part.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hi!');
    expect(paused).toEqual([150]);
    expect(rateLimited).toEqual([{ status: 429, retryAfterMs: undefined, pauseMs: 150 }]);
    expect(arrivals).toHaveLength(2);
    // The retry waited for the pause.
    expect((arrivals[1] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(140);
  });

  it('a string code and a 502 are recognised too; retries used up hand the SDK the stream', async () => {
    scripts = [
      [sse(undefined, { error: { code: 'rate_limit_exceeded', message: 'Too many' } })],
      [sse(undefined, { error: { code: 502, message: 'Bad gateway' } })],
    ];
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
    const reasons: string[] = [];
    limiter.on('retry', (e) => reasons.push(e.reason));
    const client = openai(limiter, { baseDelayMs: 1, maxAttempts: 2 }, { rateLimitPauseMs: 1 });
    const stream = await create(client);
    const error = await (async () => {
      for await (const _ of stream) {
        // the error comes first
      }
    })().catch((e: unknown) => e);
    expect(reasons).toEqual(['rate-limited']);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeUndefined();
    expect(classifyFailure(error)).toMatchObject({ retryable: true, reason: 'server-error', status: 502 });
    await idle(limiter);
  });

  it('usage of a stream that reported none stays at the reservation', async () => {
    scripts = [[chunk(undefined), chunk('Par'), 20, sse(undefined, { error: { code: 503, message: 'Unavailable' } })]];
    const limiter = new Limiter({ tokens: { limit: 10_000, windowMs: 60_000 } });
    const client = openai(limiter, undefined, { estimate: () => ({ input: 300, output: 200 }) });
    let text = '';
    const error = await (async () => {
      for await (const part of await create(client)) text += part.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Par');
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ kind: 'overloaded', status: 503, code: 503 });
    await idle(limiter);
    expect(limiter.stats().tokens[0]?.used).toBe(500);
    expect(limiter.stats().requests).toEqual([]);
  });
});

describe('classifyFailure of mid-stream errors as the SDKs construct them', () => {
  it('openai: APIError(undefined, data.error, undefined, headers)', () => {
    const headers = new Headers();
    const make = (error: object) => new OpenAI.APIError(undefined, error, undefined, headers);
    expect(classifyFailure(make({ code: 429, message: 'Rate limited' }))).toMatchObject({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
    });
    expect(classifyFailure(make({ code: 'rate_limit_exceeded', message: 'x' }))).toMatchObject({
      retryable: true,
      reason: 'rate-limited',
    });
    expect(classifyFailure(make({ code: 502, message: 'x' }))).toMatchObject({ reason: 'server-error', status: 502 });
    expect(classifyFailure(make({ code: 503, message: 'x' }))).toMatchObject({ reason: 'overloaded', status: 503 });
    expect(classifyFailure(make({ code: 'insufficient_quota', message: 'x' }))).toMatchObject({ retryable: false });
    expect(classifyFailure(make({ code: 400, message: 'bad' }))).toMatchObject({ retryable: false });
    expect(classifyFailure(make({ message: 'Rate limit reached, try again in 1.5s', code: 429 }))).toMatchObject({
      retryAfterMs: 1_500,
    });
  });

  it('@anthropic-ai/sdk: APIError(undefined, body, undefined, headers, body.error.type)', () => {
    type ErrorType = ConstructorParameters<typeof Anthropic.APIError>[4];
    const make = (type: string) => {
      const body = { type: 'error', error: { type, message: 'm' } };
      return new Anthropic.APIError(undefined, body, undefined, new Headers(), type as ErrorType);
    };
    expect(classifyFailure(make('overloaded_error'))).toMatchObject({
      retryable: true,
      reason: 'overloaded',
      status: 529,
    });
    expect(classifyFailure(make('rate_limit_error'))).toMatchObject({ retryable: true, reason: 'rate-limited' });
    expect(classifyFailure(make('api_error'))).toMatchObject({ retryable: true, reason: 'server-error' });
    expect(classifyFailure(make('invalid_request_error'))).toMatchObject({ retryable: false });
  });

  it('StreamError of each kind; plain errors stay unknown', () => {
    const of = (kind: StreamError['kind']) =>
      new StreamError({ kind, status: undefined, code: undefined, message: undefined });
    expect(classifyFailure(of('rate-limit'))).toMatchObject({ retryable: true, reason: 'rate-limited' });
    expect(classifyFailure(of('overloaded'))).toMatchObject({ retryable: true, reason: 'overloaded' });
    expect(classifyFailure(of('server-error'))).toMatchObject({ retryable: true, reason: 'server-error' });
    expect(classifyFailure(of('other'))).toMatchObject({ retryable: false });
    expect(classifyFailure(new Error('rate_limit_error'))).toMatchObject({ retryable: false, reason: 'unknown' });
  });

  it('a StreamError keeps no credentials from the provider message', () => {
    const error = new StreamError({
      kind: 'other',
      status: undefined,
      code: 'invalid_request_error',
      message: 'Invalid key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789',
    });
    expect(error.message).not.toContain('abcdefghijklmnop');
  });
});

describe('StreamEventWatcher', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('content, then an error in the same chunk: the offset is where the error event begins', () => {
    const watcher = new StreamEventWatcher('anthropic');
    watcher.push(bytes(messageStart + ping));
    expect(watcher.content).toBe(false);
    const before = blockStart + delta('x');
    watcher.push(bytes(before + anthropicError('overloaded_error', 'o') + delta('ignored')));
    expect(watcher.contentBeforeError).toBe(true);
    expect(watcher.error).toMatchObject({ kind: 'overloaded', code: 'overloaded_error', status: 529 });
    expect(watcher.errorOffset).toBe(bytes(before).length);
    expect(watcher.usage).toEqual({ input: 12, output: 1 });
  });

  it('an error event split across chunks, and an unterminated one at the end', () => {
    const error = anthropicError('api_error', 'boom');
    const split = new StreamEventWatcher('anthropic');
    split.push(bytes(messageStart + error.slice(0, 10)));
    expect(split.error).toBeUndefined();
    split.push(bytes(error.slice(10)));
    expect(split.error?.kind).toBe('server-error');
    expect(split.errorOffset).toBe(0);
    expect(split.contentBeforeError).toBe(false);

    const open = new StreamEventWatcher('openai');
    open.push(bytes(`${chunk('a')}data: {"error":{"code":"rate_limit_exceeded"}}`));
    expect(open.error).toBeUndefined();
    open.end();
    expect(open.error?.kind).toBe('rate-limit');
  });

  it('tells content apart: role-only chunks, message_start and ping are not; error keys set to null are no error', () => {
    const watcher = new StreamEventWatcher('openai');
    watcher.push(bytes(chunk(undefined) + sse('response.created', { type: 'response.created', error: null })));
    expect(watcher.content).toBe(false);
    expect(watcher.error).toBeUndefined();
    watcher.push(bytes(chunk('x')));
    expect(watcher.content).toBe(true);
    watcher.push(bytes(sse(undefined, { error: { code: 500, message: 'x' } })));
    expect(watcher.error).toMatchObject({ kind: 'server-error', status: 500 });
  });
});
