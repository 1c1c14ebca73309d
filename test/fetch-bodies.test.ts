import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch, estimateRequestTokens } from '../src/index.js';

/** What the server got of one request. */
interface Received {
  readonly method: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Answers the first request of each test with a 429 naming `retry-after-ms: 50` and every later
 * one with a 200 (a chat completion without usage, so the estimate stays charged), and records
 * every body it received.
 */
let server: http.Server;
let url: string;
let received: Received[] = [];
let rateLimitFirst = true;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      if (rateLimitFirst && received.length === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '50' });
        res.end(JSON.stringify({ error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-1', choices: [{ message: { role: 'assistant', content: 'hi' } }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  rateLimitFirst = true;
});

const chat = {
  model: 'gpt-4o-mini',
  max_tokens: 20,
  messages: [
    { role: 'system', content: 'You answer in one word.' },
    { role: 'user', content: 'What colour is the sky on a clear day, seen from the ground at noon?' },
  ],
};
const json = JSON.stringify(chat);
const bytes = new TextEncoder().encode(json);

/** A stream of `json` in small chunks, as an upload would send it. */
function jsonStream(): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 16));
      at += 16;
    },
  });
}

/** A limiter, and the tokens each acquire asked for. */
function tracked(): { limiter: Limiter; acquired: { input: number; output: number }[] } {
  const limiter = new Limiter({
    requests: { limit: 100, windowMs: 1_000 },
    tokens: { limit: 100_000, windowMs: 60_000 },
  });
  const acquired: { input: number; output: number }[] = [];
  limiter.on('acquired', (e) => acquired.push({ input: e.input, output: e.output }));
  return { limiter, acquired };
}

const expected = () => estimateRequestTokens(chat, { provider: 'openai', api: 'chat', mode: 'fast' });

describe('bodies fetch can send only once, with retry on', () => {
  it('a Request input: the 429 is retried with the same body bytes, method and headers', async () => {
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      retry: { baseDelayMs: 1 },
      estimate: { mode: 'fast' },
    });
    const request = new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
      body: json,
    });
    const response = await limited(request);
    expect(response.status).toBe(200);
    await expect(response.json()).resolves.toMatchObject({ id: 'chatcmpl-1' });
    expect(received).toHaveLength(2);
    for (const r of received) {
      expect(r.method).toBe('POST');
      expect(r.headers['x-trace']).toBe('abc');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body.toString('utf8')).toBe(json);
    }
    const cost = await expected();
    expect(cost.input).toBeGreaterThan(0);
    expect(acquired).toEqual([cost, cost]);
  });

  it("a ReadableStream body (duplex: 'half'): retried with the same bytes, its tokens estimated from the stream", async () => {
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      retry: { baseDelayMs: 1 },
      estimate: { mode: 'fast' },
    });
    const response = await limited(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: jsonStream(),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(received).toHaveLength(2);
    expect(received[0]?.body.equals(Buffer.from(bytes))).toBe(true);
    expect(received[1]?.body.equals(Buffer.from(bytes))).toBe(true);
    const cost = await expected();
    expect(acquired).toEqual([cost, cost]);
    // The 429's charge was given back; the 200 keeps the estimate (its body reports no usage).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(limiter.stats().tokens[0]?.used).toBe(cost.input + cost.output);
  });

  it('an async iterable body is buffered and replayed the same way', async () => {
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      retry: { baseDelayMs: 1 },
      estimate: { mode: 'fast' },
    });
    async function* parts(): AsyncGenerator<Uint8Array> {
      yield bytes.slice(0, 10);
      yield bytes.slice(10);
    }
    const response = await limited(url, {
      method: 'POST',
      body: parts() as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(received.map((r) => r.body.toString('utf8'))).toEqual([json, json]);
    expect(acquired).toEqual([await expected(), await expected()]);
  });

  it("keeps the Request's signal: an abort during the wait after the 429 rejects with its reason", async () => {
    const { limiter } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      retry: { baseDelayMs: 1 },
      estimate: { mode: 'fast' },
    });
    const controller = new AbortController();
    limiter.once('rateLimited', () => controller.abort(new Error('caller gave up')));
    const request = new Request(url, { method: 'POST', body: json, signal: controller.signal });
    await expect(limited(request)).rejects.toThrow('caller gave up');
    expect(received).toHaveLength(1);
  });

  it('an already used Request body fails as a plain fetch fails', async () => {
    const { limiter } = tracked();
    const limited = createLimitedFetch({ limiter, provider: 'openai', retry: true, estimate: { mode: 'fast' } });
    const request = new Request(url, { method: 'POST', body: json });
    await request.text();
    const plain = await fetch(request).catch((e: unknown) => e);
    const ours = await limited(request).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(TypeError);
    expect(ours).toBeInstanceOf(TypeError);
    expect(received).toHaveLength(0);
  });
});

describe('bodies without retry', () => {
  it('a stream body and a Request input are sent whole once, and estimated', async () => {
    rateLimitFirst = false;
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({ limiter, provider: 'openai', estimate: { mode: 'fast' } });
    const streamed = await limited(url, { method: 'POST', body: jsonStream(), duplex: 'half' } as RequestInit);
    await streamed.arrayBuffer();
    const viaRequest = await limited(new Request(url, { method: 'POST', body: json }));
    await viaRequest.arrayBuffer();
    expect(received.map((r) => r.body.toString('utf8'))).toEqual([json, json]);
    const cost = await expected();
    expect(acquired).toEqual([cost, cost]);
  });

  it('estimates JSON text in any body type: Blob, ArrayBuffer, typed arrays, URLSearchParams, FormData', async () => {
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      sync: false,
      estimate: { mode: 'fast' },
      fetch: async (_input, init) => {
        // Replayable bodies are passed on as they came.
        await new Response(init?.body ?? null).arrayBuffer();
        return new Response('{}', { headers: { 'content-type': 'application/json' } });
      },
    });
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 4);
    const form = new FormData();
    form.append('purpose', 'test');
    form.append('request', json);
    const formWithFile = new FormData();
    formWithFile.append('file', new Blob([json], { type: 'application/json' }), 'request.json');
    const bodies: BodyInit[] = [
      json,
      new Blob([json], { type: 'application/json' }),
      bytes.buffer.slice(0),
      bytes,
      padded.subarray(4, 4 + bytes.length),
      new DataView(padded.buffer, 4, bytes.length),
      new URLSearchParams({ request: json }),
      form,
      formWithFile,
    ];
    for (const body of bodies) {
      const response = await limited(url, { method: 'POST', body });
      await response.arrayBuffer();
    }
    const cost = await expected();
    expect(acquired).toEqual(bodies.map(() => cost));
  });

  it('a form without JSON (a file upload) is charged no tokens, as before', async () => {
    const { limiter, acquired } = tracked();
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      sync: false,
      fetch: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }),
    });
    const form = new FormData();
    form.append('model', 'whisper-1');
    form.append('file', new Blob([new Uint8Array(4_096)], { type: 'audio/wav' }), 'a.wav');
    await (await limited('http://127.0.0.1:9/v1/audio/transcriptions', { method: 'POST', body: form })).text();
    expect(acquired).toEqual([{ input: 0, output: 0 }]);
  });
});
