import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createLimitedFetch, Limiter, type ConcurrencyChangedEvent, type PaceChangedEvent } from '../src/index.js';
import { mockServers } from './helpers/mock-servers.js';
import { chatCompletionBody } from './helpers/openai-body.js';

const startMock = mockServers();

describe('adaptive concurrency against an overloaded provider', () => {
  it('finds a capacity of 8 from 529s: overloaded answers <= 5% of requests, throughput >= 85% of 8 in flight', async () => {
    const latency = { min: 200, max: 400 };
    const server = await startMock({ provider: 'anthropic', capacity: { concurrency: 8 }, latencyMs: latency });
    const limiter = new Limiter({ concurrency: { adaptive: true, max: 64 } });
    const caps: ConcurrencyChangedEvent[] = [];
    limiter.on('concurrencyChanged', (event) => caps.push(event));
    const fetch = createLimitedFetch({ limiter, provider: 'anthropic', retry: { baseDelayMs: 250 } });
    const client = new Anthropic({ apiKey: 'test', baseURL: server.url, fetch, maxRetries: 0 });
    const n = 300;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: n }, () =>
        client.messages.create({
          model: 'claude-haiku-4-5',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1_000;
    const stats = server.stats();
    const ideal = 8 / ((latency.min + latency.max) / 2 / 1_000);
    const throughput = n / seconds;
    console.log(
      `adaptive vs capacity 8: ${stats.overloaded} overloaded of ${stats.total} (${((100 * stats.overloaded) / stats.total).toFixed(1)}%), ` +
        `${throughput.toFixed(1)}/s = ${((100 * throughput) / ideal).toFixed(0)}% of 8 in flight (${ideal.toFixed(1)}/s), ` +
        `${caps.length} cap changes, final cap ${limiter.stats().concurrency}, most in flight ${stats.maxInFlight}`,
    );
    expect(stats.accepted).toBe(n);
    expect(stats.overloaded / stats.total).toBeLessThanOrEqual(0.05);
    expect(throughput).toBeGreaterThanOrEqual(0.85 * ideal);
    expect(caps.some((c) => c.reason === 'overloaded')).toBe(true);
    const final = limiter.stats().concurrency ?? 0;
    expect(final).toBeGreaterThanOrEqual(5);
    expect(final).toBeLessThanOrEqual(10);
  }, 60_000);
});

/**
 * A leaky bucket without burst, as nginx's `limit_req rate=10r/s` enforces: a request less than
 * 100 ms (in whole milliseconds) after the last one it accepted is refused with a bare 429.
 */
async function startLeakyBucket(intervalMs: number) {
  let last = Number.NEGATIVE_INFINITY;
  const arrivals: { at: number; ok: boolean }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const at = Date.now();
      const ok = at - last >= intervalMs;
      arrivals.push({ at, ok });
      if (!ok) {
        res.writeHead(429, { 'content-type': 'text/html' }).end('<html><body>429 Too Many Requests</body></html>');
        return;
      }
      last = at;
      res.writeHead(200, { 'content-type': 'application/json' }).end(chatCompletionBody());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    arrivals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('repeated 429s tighten the pace', () => {
  it('a leaky bucket of one per 100 ms under a limiter at 10 per second: after the first few 429s, < 5% more, >= 80% of its rate', async () => {
    const bucket = await startLeakyBucket(100);
    try {
      const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 } });
      const paces: (PaceChangedEvent & { at: number })[] = [];
      limiter.on('paceChanged', (event) => paces.push({ ...event, at: Date.now() }));
      const fetch = createLimitedFetch({ limiter, provider: 'openai', retry: { maxAttempts: 10 } });
      const client = new OpenAI({ apiKey: 'test', baseURL: bucket.url, fetch, maxRetries: 0 });
      const n = 200;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: n }, () =>
          client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
        ),
      );
      const seconds = (Date.now() - started) / 1_000;
      const refused = bucket.arrivals.filter((a) => !a.ok);
      const firstPace = paces[0]?.at ?? Number.POSITIVE_INFINITY;
      const later = refused.filter((a) => a.at > firstPace).length;
      const rate = n / seconds;
      console.log(
        `leaky bucket 10/s, limiter 10/s: ${refused.length} 429s in all, ${later} after the pace started ` +
          `(${((100 * later) / n).toFixed(1)}% of ${n}), ${rate.toFixed(2)}/s = ${((100 * rate) / 10).toFixed(0)}% of the bucket's rate, ` +
          `${paces.length} pace changes, last ${JSON.stringify(paces.at(-1))}`,
      );
      expect(paces[0]).toMatchObject({ reason: 'rate-limited' });
      expect(later / n).toBeLessThan(0.05);
      expect(rate).toBeGreaterThanOrEqual(8);
    } finally {
      await bucket.close();
    }
  }, 60_000);
});
