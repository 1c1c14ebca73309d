import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryError } from '../src/core/errors.js';
import { Limiter } from '../src/limiter/limiter.js';
import { retry } from '../src/retry/retry.js';
import { startScriptedServer, type ScriptedServer } from './retry-helpers.js';

// Real sockets and real timers: each test is kept well under a second.

let server: ScriptedServer;

beforeAll(async () => {
  server = await startScriptedServer();
});

afterAll(async () => {
  await server.close();
});

const get = (signal: AbortSignal): Promise<Response> => fetch(`${server.url}/v1/chat/completions`, { signal });

describe('retry over HTTP (node:http server, real timers)', () => {
  it("waits retry-after-ms after a 429, and holds the limiter's other callers until the pause ends", async () => {
    server.script([
      {
        status: 429,
        headers: { 'retry-after-ms': '400' },
        body: { error: { message: 'Rate limit', code: 'rate_limit_exceeded' } },
      },
      { status: 200, body: { ok: 1 } },
    ]);
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 } });
    const started = performance.now();
    const first = retry(({ signal }) => get(signal), { limiter });
    // Start a second caller once the 429 has arrived and paused the limiter.
    await new Promise<void>((resolve) => limiter.once('rateLimited', () => resolve()));
    const second = retry(({ signal }) => get(signal), { limiter });
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    expect(server.arrivals).toHaveLength(3);
    const [firstArrival, ...later] = server.arrivals as [number, ...number[]];
    // One retry, at least 400 ms after the 429 (a timer can fire a hair early against another clock).
    for (const at of later) expect(at - firstArrival).toBeGreaterThanOrEqual(395);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('does not retry insufficient_quota', async () => {
    server.script([
      {
        status: 429,
        body: {
          error: {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota',
            code: 'insufficient_quota',
          },
        },
      },
      { status: 200 },
    ]);
    const error = (await retry(({ signal }) => get(signal)).catch((e: unknown) => e)) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(1);
    expect(error.status).toBe(429);
    expect(error.message).toMatch(/not retried \(insufficient-quota\)/);
    expect(server.arrivals).toHaveLength(1);
    // The body is still there for the caller.
    await expect((error.cause as Response).json()).resolves.toMatchObject({ error: { code: 'insufficient_quota' } });
  });

  it('retries 500, 500, then succeeds at the third attempt', async () => {
    server.script([{ status: 500 }, { status: 500 }, { status: 200, body: { ok: 3 } }]);
    const response = await retry(({ signal }) => get(signal), { baseDelayMs: 20 });
    await expect(response.json()).resolves.toEqual({ ok: 3 });
    expect(server.arrivals).toHaveLength(3);
  });

  it('cuts a response that never comes with attemptTimeoutMs, and the retry succeeds', async () => {
    server.script([{ hang: true }, { status: 200, body: { ok: 'after timeout' } }]);
    const started = performance.now();
    const response = await retry(({ signal }) => get(signal), { attemptTimeoutMs: 200, baseDelayMs: 10 });
    await expect(response.json()).resolves.toEqual({ ok: 'after timeout' });
    expect(server.arrivals).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('retries a connection reset', async () => {
    server.script([{ reset: true }, { status: 200, body: { ok: 'after reset' } }]);
    const reasons: string[] = [];
    const response = await retry(({ signal }) => get(signal), {
      baseDelayMs: 10,
      onRetry: (e) => void reasons.push(e.reason),
    });
    await expect(response.json()).resolves.toEqual({ ok: 'after reset' });
    expect(reasons).toEqual(['connection']);
    expect(server.arrivals).toHaveLength(2);
  });
});
