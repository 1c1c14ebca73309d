import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch, preloadTokenizer } from '../src/index.js';
import { SENT_TAG_HEADER, watchedCount } from '../src/feedback/sent-time.js';
import { FakeClock } from '../src/testing/index.js';
import { type MockProcess, startMockProcess } from './helpers/mock-process.js';

/*
 * `countFrom: 'sent'` (the default): a request counts from when it left the process, which Node's
 * fetch reports on `undici:client:sendHeaders`, not from its response, which a non-streaming
 * generation sends only at its end.
 */

const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const chatInit = (headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: chatBody,
});
const completion = JSON.stringify({
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers after 300 ms, noting when each request arrived and the headers it carried. */
let slow: http.Server;
let slowURL: string;
const received: { at: number; headers: http.IncomingHttpHeaders }[] = [];
/** Answers 500 with a body. */
let failing: http.Server;
let failingURL: string;
let refusedURL: string;

beforeAll(async () => {
  slow = http.createServer((req, res) => {
    received.push({ at: performance.now(), headers: req.headers });
    req.resume();
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(completion), 300);
  });
  slowURL = await listen(slow);
  failing = http.createServer((req, res) => {
    req.resume();
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
  });
  failingURL = await listen(failing);
  const closed = http.createServer();
  refusedURL = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await preloadTokenizer({ model: 'gpt-4o-mini' });
});

afterAll(async () => {
  for (const server of [slow, failing]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe("countFrom: 'sent' with Node's fetch", () => {
  async function gapAfterSend(extra: { sentMarginMs?: number; fetch?: typeof fetch } = {}) {
    received.length = 0;
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 } });
    const limited = createLimitedFetch({ limiter, provider: 'openai', sync: false, estimate: () => 0, ...extra });
    const url = `${slowURL}/v1/chat/completions`;
    const responses = await Promise.all([limited(url, chatInit()), limited(url, chatInit())]);
    await Promise.all(responses.map((r) => r.text()));
    const [a, b] = received;
    if (a === undefined || b === undefined) throw new Error('the server saw fewer than two requests');
    return { gap: b.at - a.at, a, b };
  }

  it('counts a request from when it left: the next one is admitted a window after that, not after the response', async () => {
    // Counted from 75 ms (`sentMarginMs`) after the first left; from the response it would be 1,300.
    const { gap, a, b } = await gapAfterSend();
    expect(gap).toBeGreaterThanOrEqual(1_045);
    expect(gap).toBeLessThan(1_120);
    // Each attempt carried its own tag; none is left waiting.
    expect(a.headers[SENT_TAG_HEADER]).toMatch(/^[0-9a-z]{4}\.[0-9a-z]+$/);
    expect(b.headers[SENT_TAG_HEADER]).not.toBe(a.headers[SENT_TAG_HEADER]);
    expect(watchedCount()).toBe(0);
  });

  it("a custom fetch that hands the request to Node's fetch is counted from when it left too", async () => {
    const wrapper = (input: string | URL | Request, init?: RequestInit) => globalThis.fetch(input, init);
    const { gap } = await gapAfterSend({ fetch: wrapper });
    expect(gap).toBeGreaterThanOrEqual(1_045);
    expect(gap).toBeLessThan(1_120);
    expect(watchedCount()).toBe(0);
  });

  it('with sentMarginMs: 0, from the very moment it left', async () => {
    const { gap } = await gapAfterSend({ sentMarginMs: 0 });
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(1_070);
  });

  it("'response' still counts from the response headers", async () => {
    received.length = 0;
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 } });
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      sync: false,
      estimate: () => 0,
      countFrom: 'response',
    });
    const url = `${slowURL}/v1/chat/completions`;
    const responses = await Promise.all([limited(url, chatInit()), limited(url, chatInit())]);
    await Promise.all(responses.map((r) => r.text()));
    const [a, b] = received;
    if (a === undefined || b === undefined) throw new Error('the server saw fewer than two requests');
    expect(b.at - a.at).toBeGreaterThanOrEqual(1_250);
    expect(a.headers[SENT_TAG_HEADER]).toBeUndefined();
  });
});

describe("countFrom: 'sent' with another fetch: the short bound", () => {
  async function countedFrom(sentFallbackMs: number | undefined, answerAfterMs: number): Promise<number> {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock });
    const seen: Headers[] = [];
    const custom = async (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      seen.push(new Headers(init?.headers));
      await clock.advance(answerAfterMs);
      return new Response(completion, { headers: { 'content-type': 'application/json' } });
    };
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      sync: false,
      estimate: () => 0,
      fetch: custom,
      ...(sentFallbackMs !== undefined && { sentFallbackMs }),
    });
    await (await limited('https://api.openai.com/v1/chat/completions', chatInit())).text();
    // Tagged in case it hands the request to Node's fetch; this one never does, so nothing reports it.
    expect(seen[0]?.has(SENT_TAG_HEADER)).toBe(true);
    expect(watchedCount()).toBe(0);
    // The entry leaves the window `windowMs` after it was counted from: find that moment.
    let at = clock.now();
    while (limiter.stats().requests[0]?.used === 1 && at < 5_000) {
      await clock.advance(1);
      at = clock.now();
    }
    return at - 1_000;
  }

  it('counts from acquiredAt + sentFallbackMs (50 by default)', async () => {
    expect(await countedFrom(undefined, 300)).toBeCloseTo(50, -1);
    expect(await countedFrom(120, 300)).toBeCloseTo(120, -1);
  });

  it('never later than the response', async () => {
    expect(await countedFrom(200, 30)).toBeCloseTo(30, -1);
  });

  it('validates sentFallbackMs like maxCountDelayMs, and accepts countFrom: sent', () => {
    const limiter = new Limiter();
    expect(() => createLimitedFetch({ limiter, provider: 'openai', sentFallbackMs: -1 })).toThrow(
      /^Expected `sentFallbackMs` to be a non-negative finite number, got `-1`/,
    );
    expect(() => createLimitedFetch({ limiter, provider: 'openai', sentFallbackMs: '50' as never })).toThrow(TypeError);
    expect(() =>
      createLimitedFetch({ limiter, provider: 'openai', countFrom: 'sent', sentFallbackMs: 0 }),
    ).not.toThrow();
  });
});

describe('the tag stays inside', () => {
  it('is absent from errors, kept failures and the caller’s headers; nothing is left waiting', async () => {
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 } });
    const kept: unknown[] = [];
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      sync: false,
      estimate: () => 0,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, onRetry: (event) => void kept.push(event) },
    });
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-test' };
    const init = { method: 'POST', headers, body: chatBody };
    const failed = await limited(`${failingURL}/v1/chat/completions`, init);
    const failedText = await failed.text();
    const refused = await limited(`${refusedURL}/v1/chat/completions`, init).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    const controller = new AbortController();
    const aborted = limited(`${slowURL}/v1/chat/completions`, { ...init, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(aborted).rejects.toThrow('stop');

    expect(kept.length).toBeGreaterThan(0);
    const responseHeaders: string[] = [];
    failed.headers.forEach((value, name) => void responseHeaders.push(`${name}: ${value}`));
    const seen = [
      failedText,
      responseHeaders.join('\n'),
      JSON.stringify(kept),
      String(refused),
      JSON.stringify(refused, Object.getOwnPropertyNames(refused)),
      String((refused as Error).cause),
      JSON.stringify(headers),
    ].join('\n');
    expect(seen).not.toMatch(/x-forestall/i);
    expect(headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer sk-test' });
    expect(watchedCount()).toBe(0);
  });
});

describe('at the limit against a strict arrival-time server (own process)', () => {
  const servers: MockProcess[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function run(latencyMs: number) {
    const requests = { limit: 20, windowMs: 2_000 };
    const server = await startMockProcess({ provider: 'openai', algorithm: 'sliding-window', requests, latencyMs });
    servers.push(server);
    const limiter = new Limiter({ requests });
    const client = new OpenAI({
      apiKey: 'sk-test',
      baseURL: server.url,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter, provider: 'openai', sync: false }),
    });
    // When each request left, as Node reports it.
    const sentAt: number[] = [];
    const onSent = (): void => void sentAt.push(performance.now());
    subscribe('undici:client:sendHeaders', onSent);
    const total = 60;
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await Promise.allSettled(
        Array.from({ length: total }, (_, i) =>
          client.chat.completions.create({
            model: 'gpt-4o-mini',
            max_tokens: 10,
            messages: [{ role: 'user', content: `request ${i}` }],
          }),
        ),
      );
    } finally {
      unsubscribe('undici:client:sendHeaders', onSent);
    }
    const stats = await server.stats();
    sentAt.sort((x, y) => x - y);
    const span = (sentAt.at(-1) ?? 0) - (sentAt[0] ?? 0);
    // Beyond the first full window, `limit` per `windowMs` is the most the server allows.
    const rate = (total - requests.limit) / span / (requests.limit / requests.windowMs);
    return {
      rejected: stats.rejected429,
      failed: settled.filter((s) => s.status === 'rejected').length,
      max: stats.maxArrivalsInWindow,
      rate,
      waiting: watchedCount(),
    };
  }

  for (const latencyMs of [50, 2_000]) {
    it(`${latencyMs} ms responses: no 429 and at least 95% of the allowed rate`, async () => {
      const result = await run(latencyMs);
      console.log(`countFrom 'sent', latency ${latencyMs} ms:`, JSON.stringify(result));
      expect(result.rejected).toBe(0);
      expect(result.failed).toBe(0);
      expect(result.max).toBeLessThanOrEqual(20);
      expect(result.rate).toBeGreaterThanOrEqual(0.95);
      expect(result.waiting).toBe(0);
    }, 20_000);
  }
});
