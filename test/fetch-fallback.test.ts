import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { FallbackEvent } from '../src/core/events.js';
import {
  Limiter,
  LimiterRegistry,
  createLimitedFetch,
  type FetchLike,
  type LimitedFetchOptions,
  type LimiterKey,
} from '../src/index.js';
import type { MockServer } from '../src/testing/index.js';
import { mockServers } from './helpers/mock-servers.js';

const start = mockServers();

/** What a scripted server answers to one request. */
interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

/** One request a scripted server received. */
interface Seen {
  readonly path: string;
  readonly search: string;
  /** The body's `model`, else the model in the path (Gemini's, Azure's deployment). */
  readonly model: string | undefined;
  readonly body: Record<string, unknown> | undefined;
}

interface Scripted {
  readonly url: string;
  readonly seen: Seen[];
}

const scriptedServers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(
    scriptedServers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

/** A `node:http` server answering each request as `answer` says, from the model it was sent as. */
async function scripted(answer: (seen: Seen, index: number) => Answer): Promise<Scripted> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
      const inPath = /\/models\/([^/:]+):|\/deployments\/([^/]+)\//.exec(url.pathname);
      const model = typeof body?.model === 'string' ? body.model : (inPath?.[1] ?? inPath?.[2]);
      const request: Seen = { path: url.pathname, search: url.search, model, body };
      seen.push(request);
      const { status, headers, body: text } = answer(request, seen.length - 1);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text);
    });
  });
  scriptedServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (value: unknown): string => JSON.stringify(value);

const chatCompletion = (model: string | undefined): Answer => ({
  status: 200,
  body: json({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: `from ${model}` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
  }),
});

const anthropicMessage = (model: string | undefined): Answer => ({
  status: 200,
  body: json({
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: `from ${model}` }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 9, output_tokens: 3 },
  }),
});

const geminiAnswer = (model: string | undefined): Answer => ({
  status: 200,
  body: json({
    candidates: [{ content: { role: 'model', parts: [{ text: `from ${model}` }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 3, totalTokenCount: 12 },
    modelVersion: model,
  }),
});

/** Every `fallback` event of a registry, with the model group of the limiter that emitted it. */
function fallbacks(registry: LimiterRegistry): (FallbackEvent & { readonly limiter: string | undefined })[] {
  const events: (FallbackEvent & { readonly limiter: string | undefined })[] = [];
  registry.on('fallback', (event, key: LimiterKey) => events.push({ ...event, limiter: key.model }));
  return events;
}

/** Where the client points: the routing fetch below sends each request to the mock of its model. */
const ROUTED = 'http://models.invalid/v1';

/** A fetch sending each request to the mock of the model its body names. */
function byModel(servers: Readonly<Record<string, MockServer>>): FetchLike {
  return (input, init) => {
    const model = (JSON.parse(String(init?.body)) as { model: string }).model;
    const server = servers[model];
    if (server === undefined) throw new Error(`no mock for ${model}`);
    return fetch(String(input).replace(ROUTED, server.url), init);
  };
}

const user = (content: string) => [{ role: 'user' as const, content }];

describe('createLimitedFetch fallback, against the mock provider', () => {
  it('40 concurrent requests while gpt-4o is near its limit: what it has no room for goes to gpt-4o-mini at once, 0 429s', async () => {
    const primaryLimits = { limit: 10, windowMs: 2_000 };
    const spareLimits = { limit: 1_000, windowMs: 2_000 };
    const primary = await start({ provider: 'openai', requests: primaryLimits, tokenizer: 'fast' });
    const spare = await start({ provider: 'openai', requests: spareLimits, tokenizer: 'fast' });
    const registry = new LimiterRegistry({
      providers: {
        openai: { models: { 'gpt-4o': { requests: primaryLimits }, 'gpt-4o-mini': { requests: spareLimits } } },
      },
    });
    const events = fallbacks(registry);
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: ROUTED,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        fetch: byModel({ 'gpt-4o': primary, 'gpt-4o-mini': spare }),
        estimate: { mode: 'fast' },
        fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] } },
      }),
    });
    const ask = async (i: number) => {
      const started = performance.now();
      const completion = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: user(`Question ${i}`),
        max_tokens: 20,
      });
      return { model: completion.model, ms: performance.now() - started };
    };

    // gpt-4o near its limit: 6 of its 10 in this window used, one after another.
    for (let i = 0; i < 6; i++) expect((await ask(i)).model).toBe('gpt-4o');
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => ask(100 + i)));

    const [p, s] = [primary.stats(), spare.stats()];
    expect(p.rejected429).toBe(0);
    expect(s.rejected429).toBe(0);
    expect(p.accepted).toBeLessThanOrEqual(10);
    expect(p.accepted).toBeGreaterThanOrEqual(8);
    expect(p.accepted + s.accepted).toBe(46);
    // Sent as gpt-4o-mini (the routing fetch reads the body: unrewritten, they would reach gpt-4o's
    // mock), answered as gpt-4o-mini.
    expect(s.requestsSeen.every((r) => r.model === 'gpt-4o-mini')).toBe(true);
    expect(p.requestsSeen.every((r) => r.model === 'gpt-4o')).toBe(true);
    expect(answers.filter((a) => a.model === 'gpt-4o-mini')).toHaveLength(s.accepted);
    // The default afterMs (1000): no request waited longer than that while gpt-4o-mini had room.
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1_000 + 300);
    expect(events).toHaveLength(s.accepted);
    for (const event of events) {
      expect(event).toEqual({ requested: 'gpt-4o', served: 'gpt-4o-mini', reason: 'wait', limiter: 'gpt-4o-mini' });
    }
  });

  it('afterMs: a window that frees within it keeps the request on the requested model', async () => {
    const limits = { limit: 2, windowMs: 400 };
    const primary = await start({ provider: 'openai', requests: limits, tokenizer: 'fast' });
    const spare = await start({ provider: 'openai', requests: { limit: 100, windowMs: 1_000 }, tokenizer: 'fast' });
    const registry = new LimiterRegistry({
      providers: {
        openai: {
          models: { 'gpt-4o': { requests: limits }, 'gpt-4o-mini': { requests: { limit: 100, windowMs: 1_000 } } },
        },
      },
    });
    const events = fallbacks(registry);
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: ROUTED,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        fetch: byModel({ 'gpt-4o': primary, 'gpt-4o-mini': spare }),
        estimate: { mode: 'fast' },
        fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] }, afterMs: 1_500 },
      }),
    });
    const ask = (i: number) =>
      client.chat.completions.create({ model: 'gpt-4o', messages: user(`Q${i}`), max_tokens: 5 });
    const models = (await Promise.all([0, 1, 2, 3].map(ask))).map((c) => c.model);
    // Two more fit 400 ms later, well within afterMs: nobody fell back.
    expect(models).toEqual(['gpt-4o', 'gpt-4o', 'gpt-4o', 'gpt-4o']);
    expect(spare.stats().total).toBe(0);
    expect(primary.stats().rejected429).toBe(0);
    expect(events).toEqual([]);
  });
});

describe('createLimitedFetch fallback after a 429 or an overload', () => {
  const rateLimited: Answer = {
    status: 429,
    headers: { 'retry-after': '5' },
    body: json({ error: { message: 'Rate limit reached for gpt-4o', type: 'requests', code: 'rate_limit_exceeded' } }),
  };

  function openaiRegistry(): LimiterRegistry {
    return new LimiterRegistry({
      providers: {
        openai: {
          models: {
            'gpt-4o': { requests: { limit: 100, windowMs: 60_000 } },
            'gpt-4o-mini': { requests: { limit: 100, windowMs: 60_000 } },
          },
        },
      },
    });
  }

  it('a 429 with retry-after: 5 and retry on: the retry goes to the fallback at once (rate-limited)', async () => {
    const server = await scripted((seen) => (seen.model === 'gpt-4o' ? rateLimited : chatCompletion(seen.model)));
    const registry = openaiRegistry();
    const events = fallbacks(registry);
    const retries: (string | undefined)[] = [];
    registry.on('retry', (_event, key) => retries.push(key.model));
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: `${server.url}/v1`,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        retry: true,
        estimate: { mode: 'fast' },
        fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] } },
      }),
    });
    const started = performance.now();
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi'), max_tokens: 5 });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0]?.message.content).toBe('from gpt-4o-mini');
    expect(server.seen.map((s) => s.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    // The same request, only its model changed.
    expect(server.seen[1]?.body).toEqual({ ...server.seen[0]?.body, model: 'gpt-4o-mini' });
    expect(registry.get('openai', 'gpt-4o').stats().pausedForMs).toBeGreaterThan(3_000);
    // The retry was the failed model's; the fallback event the one that served it.
    expect(retries).toEqual(['gpt-4o']);
    expect(events).toEqual([
      { requested: 'gpt-4o', served: 'gpt-4o-mini', reason: 'rate-limited', limiter: 'gpt-4o-mini' },
    ]);

    // The next request goes to the fallback straight away while gpt-4o is paused.
    const next = await client.chat.completions.create({ model: 'gpt-4o', messages: user('Again'), max_tokens: 5 });
    expect(next.model).toBe('gpt-4o-mini');
    expect(server.seen.map((s) => s.model)).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini']);
    expect(events.map((e) => e.reason)).toEqual(['rate-limited', 'rate-limited']);
  });

  it('an Anthropic 529 (retry-after: 3) with retry on: the retry goes to the fallback at once, and the next request too (overloaded)', async () => {
    const overloaded: Answer = {
      status: 529,
      headers: { 'retry-after': '3' },
      body: json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    };
    const server = await scripted((seen) =>
      seen.model?.startsWith('claude-opus-4-5') === true ? overloaded : anthropicMessage(seen.model),
    );
    const registry = new LimiterRegistry({
      providers: {
        anthropic: {
          models: {
            'claude-opus-4-5': { requests: { limit: 50, windowMs: 60_000 } },
            'claude-haiku-4-5': { requests: { limit: 50, windowMs: 60_000 } },
          },
        },
      },
    });
    const events = fallbacks(registry);
    const client = new Anthropic({
      apiKey: 'test',
      baseURL: server.url,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'anthropic',
        retry: true,
        estimate: { mode: 'fast' },
        fallback: { models: { 'claude-opus-4-5': ['claude-haiku-4-5'] } },
      }),
    });
    const ask = () =>
      client.messages.create({ model: 'claude-opus-4-5-20251101', max_tokens: 5, messages: user('Hi') });
    const started = performance.now();
    const first = await ask();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(first.model).toBe('claude-haiku-4-5');
    // The dated name found its group's entry; the next request skips the overloaded model.
    const second = await ask();
    expect(second.model).toBe('claude-haiku-4-5');
    expect(server.seen.map((s) => s.model)).toEqual([
      'claude-opus-4-5-20251101',
      'claude-haiku-4-5',
      'claude-haiku-4-5',
    ]);
    expect(events).toEqual([
      {
        requested: 'claude-opus-4-5-20251101',
        served: 'claude-haiku-4-5',
        reason: 'overloaded',
        limiter: 'claude-haiku-4-5',
      },
      {
        requested: 'claude-opus-4-5-20251101',
        served: 'claude-haiku-4-5',
        reason: 'overloaded',
        limiter: 'claude-haiku-4-5',
      },
    ]);
  });

  it("an OpenAI 503 with the SDK's own retries: the SDK's next call goes to the fallback", async () => {
    const server = await scripted((seen) =>
      seen.model === 'gpt-4o'
        ? { status: 503, body: json({ error: { message: 'The server is overloaded', type: 'server_error' } }) }
        : chatCompletion(seen.model),
    );
    const registry = openaiRegistry();
    const events = fallbacks(registry);
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: `${server.url}/v1`,
      maxRetries: 1,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        estimate: { mode: 'fast' },
        rateLimitPauseMs: 5_000,
        fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] } },
      }),
    });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi'), max_tokens: 5 });
    expect(completion.model).toBe('gpt-4o-mini');
    expect(server.seen.map((s) => s.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(events.map((e) => e.reason)).toEqual(['overloaded']);
  });

  it('a stream that fails with an overloaded error before content: the next request goes to the fallback', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const model = (JSON.parse(raw) as { model: string }).model;
        seen.push(model);
        if (model === 'claude-opus-4-5') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(
            `event: error\ndata: ${json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(anthropicMessage(model).body);
      });
    });
    scriptedServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`;
    const registry = new LimiterRegistry();
    const events = fallbacks(registry);
    const limitedFetch = createLimitedFetch({
      limiter: registry,
      provider: 'anthropic',
      estimate: { mode: 'fast' },
      sync: false,
      fallback: { models: { 'claude-opus-4-5': ['claude-haiku-4-5'] } },
    });
    const post = (stream: boolean) =>
      limitedFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: json({ model: 'claude-opus-4-5', max_tokens: 5, messages: user('Hi'), stream }),
      });
    // Without retry, the caller gets the stream as it came.
    expect(await (await post(true)).text()).toContain('overloaded_error');
    const next = (await (await post(false)).json()) as { model: string };
    expect(next.model).toBe('claude-haiku-4-5');
    expect(seen).toEqual(['claude-opus-4-5', 'claude-haiku-4-5']);
    expect(events.map((e) => e.reason)).toEqual(['overloaded']);
  });
});

describe('createLimitedFetch fallback for providers with the model in the URL', () => {
  it('Gemini: the model segment of the path is rewritten, the query kept (a Request input too)', async () => {
    const server = await scripted((seen) => geminiAnswer(seen.model));
    const registry = new LimiterRegistry({
      providers: { gemini: { models: { 'gemini-2.5-pro': { requests: { limit: 1, windowMs: 60_000 } } } } },
    });
    const events = fallbacks(registry);
    const limitedFetch = createLimitedFetch({
      limiter: registry,
      provider: 'gemini',
      estimate: { mode: 'fast' },
      sync: false,
      fallback: { models: { 'gemini-2.5-pro': ['gemini-2.5-flash'] } },
    });
    const url = `${server.url}/v1beta/models/gemini-2.5-pro:generateContent?key=k-1`;
    const body = json({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
    expect((await limitedFetch(url, init)).status).toBe(200);
    const second = (await (await limitedFetch(new Request(url, init))).json()) as { modelVersion: string };
    expect(second.modelVersion).toBe('gemini-2.5-flash');
    expect(server.seen.map((s) => [s.path, s.search])).toEqual([
      ['/v1beta/models/gemini-2.5-pro:generateContent', '?key=k-1'],
      ['/v1beta/models/gemini-2.5-flash:generateContent', '?key=k-1'],
    ]);
    expect(server.seen[1]?.body).toEqual(server.seen[0]?.body);
    expect(events).toEqual([
      { requested: 'gemini-2.5-pro', served: 'gemini-2.5-flash', reason: 'wait', limiter: 'gemini-2.5-flash' },
    ]);
  });

  it('Azure: the deployment is rewritten, the body left as it was', async () => {
    const server = await scripted((seen) => chatCompletion(seen.model));
    const registry = new LimiterRegistry({
      providers: { azure: { models: { 'gpt4o-prod': { requests: { limit: 1, windowMs: 60_000 } } } } },
    });
    const limitedFetch = createLimitedFetch({
      limiter: registry,
      provider: 'azure',
      estimate: { mode: 'fast' },
      sync: false,
      fallback: { models: { 'gpt4o-prod': ['gpt4o-mini-prod'] } },
    });
    const post = () =>
      limitedFetch(`${server.url}/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': 'azure-key' },
        body: json({ model: 'gpt-4o', messages: user('Hi') }),
      });
    await post();
    await post();
    expect(server.seen.map((s) => s.path)).toEqual([
      '/openai/deployments/gpt4o-prod/chat/completions',
      '/openai/deployments/gpt4o-mini-prod/chat/completions',
    ]);
    expect(server.seen.map((s) => s.body?.model)).toEqual(['gpt-4o', 'gpt-4o']);
    expect(server.seen[1]?.search).toBe('?api-version=2024-10-21');
  });
});

describe('createLimitedFetch fallback candidates', () => {
  it('a dated name finds its group, and a fallback sharing the requested limiter is skipped', async () => {
    const server = await scripted((seen) => chatCompletion(seen.model));
    const registry = new LimiterRegistry({
      providers: { openai: { models: { 'gpt-4o': { requests: { limit: 1, windowMs: 60_000 } } } } },
    });
    const events = fallbacks(registry);
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: `${server.url}/v1`,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        estimate: { mode: 'fast' },
        sync: false,
        fallback: { models: { 'gpt-4o': ['gpt-4o-2024-11-20', 'gpt-4o-mini'] }, afterMs: 0 },
      }),
    });
    const ask = () =>
      client.chat.completions.create({ model: 'gpt-4o-2024-08-06', messages: user('Hi'), max_tokens: 5 });
    await ask();
    await ask();
    expect(server.seen.map((s) => s.model)).toEqual(['gpt-4o-2024-08-06', 'gpt-4o-mini']);
    expect(events).toEqual([
      { requested: 'gpt-4o-2024-08-06', served: 'gpt-4o-mini', reason: 'wait', limiter: 'gpt-4o-mini' },
    ]);
  });

  it('while every candidate is full, the request waits once in each limiter, and an abort leaves them all', async () => {
    const server = await scripted((seen) => chatCompletion(seen.model));
    const full = { requests: { limit: 1, windowMs: 60_000 } };
    const registry = new LimiterRegistry({
      providers: { openai: { models: { 'gpt-4o': full, 'gpt-4o-mini': full } } },
    });
    const limitedFetch = createLimitedFetch({
      limiter: registry,
      provider: 'openai',
      estimate: { mode: 'fast' },
      sync: false,
      fallback: { models: { 'gpt-4o': ['gpt-4o-2024-11-20', 'gpt-4o-mini', 'gpt-4o-mini-2024-07-18'] } },
    });
    const post = (signal?: AbortSignal) =>
      limitedFetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        body: json({ model: 'gpt-4o', messages: user('Hi') }),
        ...(signal !== undefined && { signal }),
      });
    await post();
    await post();
    expect(server.seen.map((s) => s.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    const controller = new AbortController();
    const waiting = post(controller.signal).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [gpt4o, mini] = [registry.get('openai', 'gpt-4o'), registry.get('openai', 'gpt-4o-mini')];
    expect([gpt4o.stats().queued, mini.stats().queued]).toEqual([1, 1]);
    controller.abort(new Error('gave up'));
    expect(await waiting).toEqual(new Error('gave up'));
    expect([gpt4o.stats().queued, mini.stats().queued]).toEqual([0, 0]);
    expect(server.seen).toHaveLength(2);
  });

  it('a model with no entry is never rerouted: it waits on its own limiter', async () => {
    const server = await scripted((seen) => chatCompletion(seen.model));
    const registry = new LimiterRegistry({
      providers: { openai: { models: { 'o3-mini': { requests: { limit: 1, windowMs: 300 } } } } },
    });
    const limitedFetch = createLimitedFetch({
      limiter: registry,
      provider: 'openai',
      estimate: { mode: 'fast' },
      sync: false,
      fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] }, afterMs: 0 },
    });
    const post = () =>
      limitedFetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        body: json({ model: 'o3-mini', messages: user('Hi') }),
      });
    await Promise.all([post(), post()]);
    expect(server.seen.map((s) => s.model)).toEqual(['o3-mini', 'o3-mini']);
  });
});

describe('createLimitedFetch fallback option checks', () => {
  const registry = new LimiterRegistry();
  const make =
    (fallback: unknown, limiter: Limiter | LimiterRegistry = registry) =>
    () =>
      createLimitedFetch({ limiter, provider: 'openai', fallback } as unknown as LimitedFetchOptions);

  it.each([
    ['not an object', 'gpt-4o-mini', TypeError, /`fallback` to be an object/],
    ['an array', [], TypeError, /`fallback` to be an object/],
    ['an unknown key', { models: { a: ['b'] }, after: 5 }, TypeError, /Unknown option `after` in `fallback`/],
    ['no models', {}, TypeError, /`fallback\.models` to be an object/],
    ['models an array', { models: [] }, TypeError, /`fallback\.models` to be an object/],
    ['an empty list', { models: { 'gpt-4o': [] } }, TypeError, /`fallback\.models\["gpt-4o"\]`.*array\(0\)/],
    ['a string list', { models: { 'gpt-4o': 'gpt-4o-mini' } }, TypeError, /`fallback\.models\["gpt-4o"\]`/],
    ['an empty name', { models: { 'gpt-4o': [''] } }, TypeError, /`fallback\.models\["gpt-4o"\]`/],
    ['a number', { models: { 'gpt-4o': [4] } }, TypeError, /`fallback\.models\["gpt-4o"\]`/],
    [
      'itself',
      { models: { 'gpt-4o': ['gpt-4o-mini', 'gpt-4o'] } },
      RangeError,
      /`fallback\.models\["gpt-4o"\]` to name other models, got "gpt-4o" itself/,
    ],
    ['a negative afterMs', { models: { a: ['b'] }, afterMs: -1 }, RangeError, /`fallback\.afterMs`.*-1/],
    ['an infinite afterMs', { models: { a: ['b'] }, afterMs: Infinity }, RangeError, /`fallback\.afterMs`/],
    ['NaN afterMs', { models: { a: ['b'] }, afterMs: Number.NaN }, RangeError, /`fallback\.afterMs`/],
    ['a string afterMs', { models: { a: ['b'] }, afterMs: '5' }, TypeError, /`fallback\.afterMs`/],
  ])('throws at once on %s', (_name, fallback, type, message) => {
    expect(make(fallback)).toThrow(type);
    expect(make(fallback)).toThrow(message);
  });

  it('needs a LimiterRegistry: a fallback model needs its own limiter', () => {
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_000 } });
    expect(make({ models: { 'gpt-4o': ['gpt-4o-mini'] } }, limiter)).toThrow(TypeError);
    expect(make({ models: { 'gpt-4o': ['gpt-4o-mini'] } }, limiter)).toThrow(
      /`fallback` needs `limiter` to be a LimiterRegistry, got a Limiter: a fallback model needs its own limiter/,
    );
  });

  it('takes a valid fallback, afterMs 0 included', () => {
    expect(make({ models: { 'gpt-4o': ['gpt-4o-mini', 'gpt-4.1-mini'] }, afterMs: 0 })).not.toThrow();
    expect(make(undefined, new Limiter())).not.toThrow();
  });
});

describe('the README example of model fallback', () => {
  it('runs against the mock: three on gpt-4o, the rest on gpt-4o-mini', async () => {
    const server = await start({ provider: 'openai', tokenizer: 'fast' });
    const log: string[] = [];
    // As in the README, with `baseURL` and `apiKey` given instead of read from the environment.
    const registry = new LimiterRegistry({
      providers: {
        openai: {
          models: {
            'gpt-4o': { requests: { limit: 3, windowMs: 60_000 } },
            'gpt-4o-mini': { requests: { limit: 500, windowMs: 60_000 } },
          },
        },
      },
    });
    registry.on('fallback', ({ requested, served, reason }) => log.push(`${requested} -> ${served} (${reason})`));
    const openai = new OpenAI({
      apiKey: 'sk-test',
      baseURL: server.url,
      maxRetries: 0,
      fetch: createLimitedFetch({
        limiter: registry,
        provider: 'openai',
        fallback: { models: { 'gpt-4o': ['gpt-4o-mini'] }, afterMs: 500 },
      }),
    });
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        openai.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: `Say ${i}` }],
          max_completion_tokens: 20,
        }),
      ),
    );
    expect(answers.map((a) => a.model).sort()).toEqual(['gpt-4o', 'gpt-4o', 'gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini']);
    expect(log).toEqual(['gpt-4o -> gpt-4o-mini (wait)', 'gpt-4o -> gpt-4o-mini (wait)']);
    expect(server.stats().rejected429).toBe(0);
  });
});
