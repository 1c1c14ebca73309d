import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { retry } from '../src/retry/retry.js';
import { sleep } from './helpers/sleep.js';
import { httpError, seededRandom } from './retry-helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('retry under load (real timers)', () => {
  it('200 calls with 20% random failures and a fallback all settle, without unhandled rejections', async () => {
    const random = seededRandom(2024);
    let attempts = 0;
    let expectedFallbacks = 0;
    const calls = Array.from({ length: 200 }, (_, i) => {
      // Decide each call's fate up front so the expected count of fallbacks is known.
      const fates = [random() < 0.2, random() < 0.2];
      if (fates[0] && fates[1]) expectedFallbacks++;
      return retry(
        async ({ attempt, signal }) => {
          attempts++;
          const fail = fates[attempt - 1] ?? false;
          // A mix of failure styles: sync throw, async rejection, a late rejection after the attempt timeout.
          if (fail && i % 3 === 0) throw httpError(500);
          await sleep(i % 5);
          if (fail && i % 3 === 1) throw httpError(503);
          if (fail) {
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
            throw new Error('rejected after being aborted');
          }
          return `ok ${i}`;
        },
        {
          maxAttempts: 2,
          baseDelayMs: 5,
          attemptTimeoutMs: 30,
          fallback: (error) => `fallback ${i} after ${error.attempts}`,
        },
      );
    });
    const results = await Promise.allSettled(calls);
    await sleep(20);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const values = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    expect(values.filter((v) => v.startsWith('fallback')).length).toBe(expectedFallbacks);
    expect(values.filter((v) => v.startsWith('fallback')).every((v) => v.endsWith('after 2'))).toBe(true);
    for (const [i, v] of values.entries()) expect(v).toMatch(new RegExp(`^(ok|fallback) ${i}\\b`));
    expect(attempts).toBeGreaterThan(200);
    expect(expectedFallbacks).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
  });

  it('leaves no timer behind: a process that used long timeouts exits at once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'forestall-retry-'));
    const retryUrl = pathToFileURL(fileURLToPath(new URL('../src/retry/retry.ts', import.meta.url))).href;
    const script = path.join(dir, 'exit.mts');
    await writeFile(
      script,
      `import { retry } from ${JSON.stringify(retryUrl)};
const long = { deadlineMs: 600_000, attemptTimeoutMs: 600_000, baseDelayMs: 600_000, maxDelayMs: 600_000 };
await retry(() => 'ok', long);
await retry(() => { throw Object.assign(new Error('bad'), { status: 400 }); }, long).catch(() => {});
const controller = new AbortController();
const waiting = retry(() => { throw Object.assign(new Error('busy'), { status: 503 }); }, { ...long, signal: controller.signal, random: () => 0.99 });
setTimeout(() => controller.abort(), 20);
await waiting.catch(() => {});
const inFlight = new AbortController();
const hung = retry(() => new Promise(() => {}), { ...long, signal: inFlight.signal });
setTimeout(() => inFlight.abort(), 20);
await hung.catch(() => {});
await retry(() => new Promise(() => {}), { attemptTimeoutMs: 30, maxAttempts: 2, baseDelayMs: 1, deadlineMs: 600_000 }).catch(() => {});
console.log('done');
`,
    );
    try {
      const started = performance.now();
      const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url));
      const child = spawn(process.execPath, ['--import', pathToFileURL(tsx).href, script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      // A leaked timer would hold the child for 600 s: stop it well before that, and fail.
      const killer = setTimeout(() => child.kill(), 8_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      clearTimeout(killer);
      expect(out).toContain('done');
      expect(code).toBe(0);
      // Any timer left behind would hold the process for 600 s.
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
