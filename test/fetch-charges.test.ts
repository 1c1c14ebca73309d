import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter, LimiterClosedError, createLimitedFetch } from '../src/index.js';

/** A server that reads every request and never answers. */
let silent: http.Server;
let silentURL: string;
/** Sends a stream's first event, then nothing more. */
let stalling: http.Server;
let stallingURL: string;
/** A port nothing listens on. */
let refusedURL: string;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  silent = http.createServer((req) => req.resume());
  silentURL = await listen(silent);
  stalling = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n');
  });
  stallingURL = await listen(stalling);
  const closed = http.createServer();
  refusedURL = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  for (const server of [silent, stalling]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const minute = (limit: number) => ({ limit, windowMs: 60_000 });
const reservation = { input: 300, output: 200 };
const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

function setup(extra: { sync?: boolean } = {}) {
  const limiter = new Limiter({ requests: minute(10), tokens: minute(10_000) });
  const limited = createLimitedFetch({ limiter, provider: 'openai', estimate: () => reservation, ...extra });
  return { limiter, limited };
}

function expectCharged(limiter: Limiter, requests: number, tokens: number): void {
  const stats = limiter.stats();
  expect(stats.inFlight).toBe(0);
  expect(stats.requests[0]?.used).toBe(requests);
  expect(stats.tokens[0]?.used).toBe(tokens);
}

describe('what was sent stays charged', () => {
  it("the SDK's timeout against a server that never answers keeps the slot and the reservation", async () => {
    const { limiter, limited } = setup();
    const client = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${silentURL}/v1`,
      maxRetries: 0,
      timeout: 150,
      fetch: limited,
    });
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expectCharged(limiter, 1, 500);
  });

  it("the caller's abort after the request left keeps the slot and the reservation", async () => {
    const { limiter, limited } = setup();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const sent = limited(`${silentURL}/v1/chat/completions`, {
      method: 'POST',
      body: chatBody,
      signal: controller.signal,
    });
    await expect(sent).rejects.toThrow(/abort/i);
    expectCharged(limiter, 1, 500);
  });

  it('an abort while the wrapper peeks at a stream keeps them too', async () => {
    const { limiter, limited } = setup();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const sent = limited(`${stallingURL}/v1/chat/completions`, {
      method: 'POST',
      body: chatBody,
      signal: controller.signal,
    });
    await expect(sent).rejects.toThrow(/abort/i);
    expectCharged(limiter, 1, 500);
  });

  it('a connection refused never left: its slot and tokens are given back', async () => {
    const { limiter, limited } = setup();
    const released: boolean[] = [];
    limiter.on('released', (e) => released.push(e.cancelled));
    await expect(limited(`${refusedURL}/v1/chat/completions`, { method: 'POST', body: chatBody })).rejects.toThrow();
    expectCharged(limiter, 0, 0);
    expect(released).toEqual([true]);
  });

  it('an error answer (500, 400) keeps its reservation: failed requests count toward the limits; a 429 is given back', async () => {
    const statuses = [500, 400, 429];
    const server = http.createServer((req, res) => {
      req.resume();
      const status = statuses.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after-ms': '0' });
      res.end(JSON.stringify({ error: { message: `status ${status}`, type: 'server_error' } }));
    });
    const url = await listen(server);
    try {
      const { limiter, limited } = setup({ sync: false });
      for (const status of [500, 400, 429]) {
        const response = await limited(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody });
        expect(response.status).toBe(status);
        await response.arrayBuffer();
      }
      expectCharged(limiter, 2, 2 * 500);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('an abort while queued never left either', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 60_000 }, tokens: minute(10_000) });
    const limited = createLimitedFetch({ limiter, provider: 'openai', estimate: () => reservation, sync: false });
    limiter.tryAcquire({ tokens: 1 }); // takes the only slot
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await expect(
      limited(`${silentURL}/v1/chat/completions`, { method: 'POST', body: chatBody, signal: controller.signal }),
    ).rejects.toThrow(/abort/i);
    expect(limiter.stats().tokens[0]?.used).toBe(1);
    expect(limiter.stats().queued).toBe(0);
  });
});

describe('nothing hangs', () => {
  it("fetches waiting for the limiter's first answer reject with LimiterClosedError when it closes", async () => {
    const { limiter, limited } = setup();
    const controller = new AbortController();
    const send = (signal?: AbortSignal) =>
      limited(`${silentURL}/v1/chat/completions`, { method: 'POST', body: chatBody, ...(signal && { signal }) });
    const probe = send(controller.signal);
    probe.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const waiting = [send(), send()];
    for (const w of waiting) w.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // They wait in the limiter's queue, where stats() shows them.
    expect(limiter.stats()).toMatchObject({ queued: 2, inFlight: 1 });
    const closedAt = performance.now();
    await limiter.close();
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(LimiterClosedError);
    expect(performance.now() - closedAt).toBeLessThan(50);
    // A fetch after the close rejects at once too.
    await expect(send()).rejects.toBeInstanceOf(LimiterClosedError);
    controller.abort();
    await expect(probe).rejects.toThrow(/abort/i);
  });
});
