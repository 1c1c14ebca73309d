import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../src/index.js';
import { maxInAnyWindow } from './helpers/windows.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('real timers', () => {
  it('10 per 200 ms over 60 acquires keeps the rule and finishes near the ideal time', async () => {
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 200 } });
    const t0 = performance.now();
    const leases = await Promise.all(Array.from({ length: 60 }, () => limiter.acquire()));
    // Admission times on the limiter's clock (performance.now): what the windows are counted from.
    const starts = leases.map((lease) => lease.acquiredAt - t0);
    expect(maxInAnyWindow(starts, 200)).toBeLessThanOrEqual(10);
    expect(starts.filter((s) => s < 200)).toHaveLength(10);
    // Six batches of ten: the last batch may start at 5 x 200 ms; allow 10% over.
    const last = Math.max(...starts);
    expect(last).toBeGreaterThanOrEqual(1_000);
    expect(last).toBeLessThan(1_000 * 1.1);
  });

  it('a child process that acquires from a limiter with a 60 s window exits at once', async () => {
    const script = `
      import { Limiter } from './src/index.ts';
      const limiter = new Limiter({ requests: { limit: 2, windowMs: 60_000 }, tokens: { limit: 100, windowMs: 60_000 } });
      const a = await limiter.acquire({ tokens: 10 });
      a.release();
      await limiter.acquire({ tokens: 20 });
      // A waiter that gives up leaves no timer behind either.
      await limiter.acquire({ tokens: 10, timeoutMs: 10 }).catch(() => {});
      const controller = new AbortController();
      const waiting = limiter.acquire({ signal: controller.signal }).catch(() => {});
      controller.abort();
      await waiting;
      console.log('done');
    `;
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const elapsed = performance.now() - started;
    expect(out).toContain('done');
    expect(code).toBe(0);
    // Startup of node + tsx takes a second or two; a kept-alive timer would hold it for 60 s.
    expect(elapsed).toBeLessThan(20_000);
  });
});
