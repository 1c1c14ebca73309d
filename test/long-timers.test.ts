import { afterEach, describe, expect, it } from 'vitest';
import { Limiter, LimiterClosedError } from '../src/index.js';
import { sleep } from './helpers/sleep.js';

const overflows: string[] = [];
const onWarning = (warning: Error): void => {
  if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message);
};
process.on('warning', onWarning);
afterEach(() => {
  overflows.length = 0;
});

describe('delays longer than a Node timer holds (2^31-1 ms) on the real clock', () => {
  it('a 3e9 ms window keeps its waiter waiting, without a TimeoutOverflowWarning', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 3e9 } });
    await limiter.acquire();
    let admitted = false;
    const waiting = limiter.acquire().then(() => {
      admitted = true;
    });
    await sleep(150);
    expect(admitted).toBe(false);
    expect(overflows).toEqual([]);
    const closed = expect(waiting).rejects.toBeInstanceOf(LimiterClosedError);
    await limiter.close();
    await closed;
  });

  it('a 3e9 ms pause holds admissions, without a warning', async () => {
    const limiter = new Limiter();
    limiter.pause(3e9);
    let admitted = false;
    const waiting = limiter.acquire().then(() => {
      admitted = true;
    });
    await sleep(150);
    expect(admitted).toBe(false);
    expect(limiter.stats().pausedForMs).toBeGreaterThan(2.9e9);
    expect(overflows).toEqual([]);
    const closed = expect(waiting).rejects.toBeInstanceOf(LimiterClosedError);
    await limiter.close();
    await closed;
  });
});

describe('close() settles a retry waiting between attempts at once', () => {
  it('rejects with LimiterClosedError instead of waiting out the backoff', async () => {
    const limiter = new Limiter();
    let attempts = 0;
    const call = limiter.run(
      () => {
        attempts++;
        throw Object.assign(new Error('busy'), { status: 503 });
      },
      { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.999 } },
    );
    const settled = expect(call).rejects.toBeInstanceOf(LimiterClosedError);
    await sleep(50);
    expect(attempts).toBe(1);
    const closedAt = performance.now();
    await limiter.close();
    await settled;
    expect(performance.now() - closedAt).toBeLessThan(50);
  });
});
