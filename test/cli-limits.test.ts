import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { limitsFromFlags, parseDurationFlag, parseLimitFlag } from '../src/cli/limit-flags.js';
import { root, runCli, useTempDirs } from './fixtures/cli-process.js';
import { startMockProcess } from './helpers/mock-process.js';

const KEY = 'sk-test-SECRET';
const tempDir = useTempDirs();

function writeRequests(dir: string, count: number): string {
  const path = join(dir, 'requests.jsonl');
  const line = (i: number) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: `hello ${i}` }] },
    });
  writeFileSync(path, `${Array.from({ length: count }, (_, i) => line(i)).join('\n')}\n`);
  return path;
}

/** nginx's `limit_req` at 10 r/s without burst: a request within 100 ms of the last one gets a 429. */
async function spacingServer(intervalMs: number) {
  const arrivals: number[] = [];
  let refused = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    const now = performance.now();
    const last = arrivals.at(-1);
    if (last !== undefined && now - last < intervalMs) {
      refused++;
      res.writeHead(429, { 'content-type': 'text/html' });
      res.end('<html><body>429 Too Many Requests</body></html>');
      return;
    }
    arrivals.push(now);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    arrivals,
    refused: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('limits on the command line', () => {
  it('parses windows of any length and turns the flags into limiter options', () => {
    expect(parseDurationFlag('batch', 'min-interval', '100ms')).toBe(100);
    expect(parseDurationFlag('batch', 'min-interval', '1.5m')).toBe(90_000);
    expect(parseLimitFlag('batch', '60/10s')).toEqual({ limit: 60, windowMs: 10_000 });
    expect(() => parseLimitFlag('batch', '10 per second')).toThrow(/--limit expects <requests>\/<duration>/);
    expect(() => parseDurationFlag('batch', 'min-interval', '0s')).toThrow(/--min-interval expects a duration/);
    expect(limitsFromFlags({ windows: [] })).toBeUndefined();
    expect(
      limitsFromFlags({
        rpm: 120,
        rpd: 10_000,
        tpd: 1_000_000,
        itpm: 30_000,
        otpm: 8_000,
        minIntervalMs: 100,
        windows: [],
      }),
    ).toEqual({
      requests: [
        { limit: 120, windowMs: 60_000 },
        { limit: 2, windowMs: 1_000 },
        { limit: 10_000, windowMs: 86_400_000 },
        { limit: 1, windowMs: 100 },
      ],
      tokens: [{ limit: 1_000_000, windowMs: 86_400_000 }],
      inputTokens: { limit: 30_000, windowMs: 60_000 },
      outputTokens: { limit: 8_000, windowMs: 60_000 },
    });
  });

  it('--min-interval 100ms against nginx-style spacing at 10 r/s: no 429', async () => {
    const server = await spacingServer(100);
    try {
      const dir = tempDir();
      const input = writeRequests(dir, 20);
      const out = join(dir, 'results.jsonl');
      const { code, stderr } = await runCli(
        [
          'batch',
          input,
          '--out',
          out,
          '--base-url',
          server.url,
          '--min-interval',
          '100ms',
          '--no-sync',
          '--estimate',
          'fast',
          '-q',
        ],
        { OPENAI_API_KEY: KEY },
      );
      expect(code, stderr).toBe(0);
      expect(server.refused()).toBe(0);
      expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(20);
      const span = (server.arrivals.at(-1) ?? 0) - (server.arrivals[0] ?? 0);
      // 19 gaps of at least 100 ms.
      expect(span).toBeGreaterThanOrEqual(1_900);
    } finally {
      await server.close();
    }
  });

  it.each([
    ['without --rpm: the window read from the resets', [] as string[]],
    ["with --rpm 360: the server tightens the user's limit until its reset", ['--rpm', '360']],
  ])(
    'a server allowing 20 per 10 s, through --provider openai-compatible, %s: no 429',
    async (_name, flags) => {
      // OpenAI's header names, which carry no window: it is not guessed as a minute (20 a minute
      // would take over a minute for these 30; 20 per 10 s takes about 10 s).
      const server = await startMockProcess({
        provider: 'openai',
        algorithm: 'sliding-window',
        requests: { limit: 20, windowMs: 10_000 },
        latencyMs: { min: 5, max: 20 },
      });
      try {
        const dir = tempDir();
        const input = writeRequests(dir, 30);
        const out = join(dir, 'results.jsonl');
        const { code, stderr } = await runCli(
          ['batch', input, '--out', out, '--base-url', server.url, '--provider', 'openai-compatible', '-q', ...flags],
          { OPENAI_API_KEY: KEY },
        );
        expect(code, stderr).toBe(0);
        expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(30);
        const seen = (await server.stats()).requestsSeen;
        expect(seen.filter((r) => r.status === 429)).toHaveLength(0);
        expect(seen.filter((r) => r.status === 200)).toHaveLength(30);
        const arrivals = seen.map((r) => r.arrivedAt).sort((a, b) => a - b);
        const span = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
        // Two windows' worth: the last ten wait for the first window to pass, and not for a minute.
        expect(span).toBeGreaterThanOrEqual(9_900);
        expect(span).toBeLessThan(30_000);
      } finally {
        await server.close();
      }
    },
    60_000,
  );

  it("learns each model's limits on its own: two models of one file, 3 per second each, no 429", async () => {
    // A server limiting each model apart, as providers do, saying so in OpenAI's header names.
    const logs = new Map<string, number[]>();
    const arrivals: { model: string; at: number; status: number }[] = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const model = (JSON.parse(text) as { model: string }).model;
        const now = performance.now();
        const log = (logs.get(model) ?? []).filter((t) => t > now - 1_000);
        const status = log.length >= 3 ? 429 : 200;
        if (status === 200) log.push(now);
        logs.set(model, log);
        arrivals.push({ model, at: now, status });
        const resetMs = log.length === 0 ? 0 : Math.ceil((log.at(-1) as number) + 1_000 - now);
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-ratelimit-limit-requests': '3',
          'x-ratelimit-remaining-requests': String(3 - log.length),
          'x-ratelimit-reset-requests': `${resetMs}ms`,
        });
        res.end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const dir = tempDir();
      const input = join(dir, 'requests.jsonl');
      const lines = Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({
          custom_id: `req-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: {
            model: i % 2 === 0 ? 'model-a' : 'model-b',
            max_tokens: 5,
            messages: [{ role: 'user', content: `hi ${i}` }],
          },
        }),
      );
      writeFileSync(input, `${lines.join('\n')}\n`);
      const out = join(dir, 'results.jsonl');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const { code, stderr } = await runCli(
        [
          'batch',
          input,
          '--out',
          out,
          '--base-url',
          url,
          '--provider',
          'openai-compatible',
          '--estimate',
          'fast',
          '-q',
        ],
        { OPENAI_API_KEY: KEY },
      );
      expect(code, stderr).toBe(0);
      expect(arrivals.filter((a) => a.status === 429)).toHaveLength(0);
      expect(arrivals).toHaveLength(12);
      // Within the first second, each model used its own three: one shared limiter would have sent three in all.
      const first = arrivals[0]?.at ?? 0;
      for (const model of ['model-a', 'model-b'])
        expect(arrivals.filter((a) => a.model === model && a.at < first + 950).length, model).toBe(3);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('--version prints the package version; bad flags name themselves', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const shown = await runCli(['--version']);
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim()).toBe(version);
    const dir = tempDir();
    const input = writeRequests(dir, 1);
    const out = join(dir, 'o.jsonl');
    for (const [flag, value, message] of [
      ['--limit', '10', /--limit expects <requests>\/<duration>, e\.g\. 10\/1s or 500\/1m, got "10"/],
      ['--min-interval', 'soon', /--min-interval expects a duration/],
      ['--estimate', 'exact', /--estimate must be tiktoken or fast, got "exact"/],
      ['--rpd', '0', /--rpd expects a whole number of at least 1/],
    ] as const) {
      const { code, stderr } = await runCli(['batch', input, '--out', out, flag, value], { OPENAI_API_KEY: KEY });
      expect(code, flag).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});
