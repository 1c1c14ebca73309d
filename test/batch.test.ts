import { describe, expect, expectTypeOf, it } from 'vitest';
import { Limiter, RetryError } from '../src/index.js';
import {
  runBatch,
  streamBatch,
  type BatchProgress,
  type BatchResult,
  type BatchStreamResult,
} from '../src/batch/run-batch.js';
import { sleep } from './helpers/sleep.js';

/** An async iterable of 0..n-1 that counts how many items were pulled and whether it was closed. */
function countingSource(n: number): AsyncIterable<number> & { pulled: number; closed: boolean } {
  const source = {
    pulled: 0,
    closed: false,
    async *[Symbol.asyncIterator](): AsyncGenerator<number> {
      try {
        for (let i = 0; i < n; i++) {
          source.pulled++;
          yield i;
        }
      } finally {
        source.closed = true;
      }
    },
  };
  return source;
}

describe('runBatch', () => {
  it('resolves to one result per item in input order, whatever order workers finish in', async () => {
    const delays = [30, 5, 20, 0, 15, 25, 1, 10];
    const finished: number[] = [];
    const results = await runBatch(
      delays,
      async (ms, { index, attempt }) => {
        await sleep(ms);
        finished.push(index);
        return { index, attempt, ms };
      },
      { concurrency: 8 },
    );
    expectTypeOf(results).toEqualTypeOf<BatchResult<{ index: number; attempt: number; ms: number }>[]>();
    expect(finished).not.toEqual([...finished].sort((a, b) => a - b));
    expect(results).toEqual(delays.map((ms, index) => ({ ok: true, value: { index, attempt: 1, ms } })));
  });

  it('turns failures into values, thrown synchronously or not, and never rejects for them', async () => {
    const results = await runBatch([1, 2, 3, 4], (n) => {
      if (n === 2) throw new Error('sync two');
      if (n === 3) return Promise.reject(new Error('async three'));
      return n * 10;
    });
    expect(results[0]).toEqual({ ok: true, value: 10 });
    expect(results[1]).toMatchObject({ ok: false, error: { message: 'sync two' } });
    expect(results[2]).toMatchObject({ ok: false, error: { message: 'async three' } });
    expect(results[3]).toEqual({ ok: true, value: 40 });
  });

  it('rejects misuse at once with errors naming the option and the value', async () => {
    const work = (n: number): number => n;
    await expect(runBatch([1], work, { concurrency: 0 })).rejects.toThrow(
      'Expected `concurrency` to be a positive integer, got `0` (number)',
    );
    await expect(runBatch([1], work, { readAhead: -1 })).rejects.toThrow(RangeError);
    await expect(runBatch([1], work, { concurrenc: 2 } as never)).rejects.toThrow(/Unknown option `concurrenc`/);
    await expect(runBatch('abc' as never, work)).rejects.toThrow(
      'Expected `items` to be an array, an iterable or an async iterable, got `"abc"` (string)',
    );
    await expect(runBatch([1], 'nope' as never)).rejects.toThrow('Expected `worker` to be a function');
    await expect(runBatch([1], work, { retry: { maxAttempts: 0 } })).rejects.toThrow(
      'Expected `maxAttempts` to be a positive integer, got `0` (number)',
    );
    await expect(runBatch([1], work, { retry: { limiter: new Limiter() } as never })).rejects.toThrow(
      /Unexpected `retry.limiter`/,
    );
    await expect(runBatch([1], work, { acquire: { tokens: 5 } })).rejects.toThrow(/`acquire` without `limiter`/);
    await expect(runBatch([1], work, { abortInFlight: 'yes' as never })).rejects.toThrow(
      'Expected `abortInFlight` to be a boolean',
    );
    expect(() => streamBatch([1], work, { concurrency: 1.5 })).toThrow(
      'Expected `concurrency` to be a positive integer, got `1.5` (number)',
    );
  });

  it('reports progress at most about 10 times a second, and once at the end with done === total', async () => {
    const calls: (BatchProgress & { at: number })[] = [];
    const started = performance.now();
    const results = await runBatch(
      Array.from({ length: 60 }, (_, i) => i),
      async (i) => {
        await sleep(5 + (i % 4) * 5);
        if (i % 10 === 0) throw new Error(`item ${i}`);
        return i;
      },
      { concurrency: 4, onProgress: (p) => calls.push({ ...p, at: performance.now() - started }) },
    );
    const elapsed = performance.now() - started;
    expect(results).toHaveLength(60);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    // One report per 100 ms at most, plus the final one (timers may fire a millisecond early).
    expect(calls.length).toBeLessThanOrEqual(Math.floor(elapsed / 95) + 2);
    for (let i = 1; i < calls.length - 1; i++) {
      expect((calls[i] as { at: number }).at - (calls[i - 1] as { at: number }).at).toBeGreaterThanOrEqual(95);
    }
    const last = calls.at(-1) as BatchProgress;
    expect(last).toMatchObject({ done: 60, total: 60, succeeded: 54, failed: 6, inFlight: 0, queued: 0, etaMs: 0 });
    expect(last.ratePerSecond).toBeGreaterThan(0);
    for (const p of calls) {
      expect(p.succeeded + p.failed).toBe(p.done);
      expect(p.inFlight).toBeLessThanOrEqual(4);
    }
    // Counts only grow.
    for (let i = 1; i < calls.length; i++)
      expect((calls[i] as BatchProgress).done).toBeGreaterThanOrEqual((calls[i - 1] as BatchProgress).done);
  });

  it('on abort admits nothing new, lets running items finish, delivers them, and rejects with the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const delivered = new Map<number, BatchResult<number>>();
    const startedAt: number[] = [];
    let abortedAt = Number.POSITIVE_INFINITY;
    const progress: BatchProgress[] = [];
    const run = runBatch(
      Array.from({ length: 100 }, (_, i) => i),
      async (i, { signal }) => {
        startedAt.push(performance.now());
        await sleep(20);
        expect(signal.aborted).toBe(false);
        return i;
      },
      {
        concurrency: 5,
        signal: controller.signal,
        onResult: (result, index) => delivered.set(index, result),
        onProgress: (p) => progress.push(p),
      },
    );
    setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(reason);
    }, 50);
    await expect(run).rejects.toBe(reason);
    expect(startedAt.filter((t) => t > abortedAt)).toHaveLength(0);
    // Every started item finished and was delivered: nothing lost.
    expect(delivered.size).toBe(startedAt.length);
    expect(delivered.size).toBeGreaterThanOrEqual(10);
    expect(delivered.size).toBeLessThan(100);
    for (const [index, result] of delivered) expect(result).toEqual({ ok: true, value: index });
    expect(progress.at(-1)).toMatchObject({ done: delivered.size, total: 100, inFlight: 0 });
  });

  it('a worker that rejects with the stop reason had not begun: it is not delivered (a resumed run does it)', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const delivered: number[] = [];
    const run = runBatch(
      [0, 1, 2, 3],
      async (i) => {
        // Items 2 and 3 wait for something of their own (a limiter) until the stop ends the wait.
        if (i >= 2) {
          await new Promise((resolve) => controller.signal.addEventListener('abort', resolve));
          throw controller.signal.reason;
        }
        await sleep(20);
        return i;
      },
      { concurrency: 4, signal: controller.signal, onResult: (_, index) => delivered.push(index) },
    );
    setTimeout(() => controller.abort(reason), 40);
    await expect(run).rejects.toBe(reason);
    expect(delivered.sort()).toEqual([0, 1]);
  });

  it('with abortInFlight, aborts running workers and does not deliver what they failed with', async () => {
    const controller = new AbortController();
    const delivered: number[] = [];
    const signals: AbortSignal[] = [];
    const run = runBatch(
      [1, 2, 3],
      (n, { signal }) => {
        signals.push(signal);
        if (n === 1) return n;
        return new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      { signal: controller.signal, abortInFlight: true, onResult: (_, index) => delivered.push(index) },
    );
    await sleep(10);
    controller.abort('bye');
    await expect(run).rejects.toBe('bye');
    expect(signals).toHaveLength(3);
    expect(signals.slice(1).every((s) => s.aborted)).toBe(true);
    expect(delivered).toEqual([0]);
  });

  it('an already aborted signal rejects with its reason and reads nothing', async () => {
    const source = countingSource(10);
    await expect(runBatch(source, (n) => n, { signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(source.pulled).toBe(0);
  });

  it('reads an async iterable lazily: never more than concurrency + readAhead ahead of the finished items', async () => {
    const source = countingSource(50);
    let finished = 0;
    let maxAhead = 0;
    const results = await runBatch(
      source,
      async (n) => {
        maxAhead = Math.max(maxAhead, source.pulled - finished);
        await sleep(2);
        finished++;
        return n;
      },
      { concurrency: 3, readAhead: 2 },
    );
    expect(results.map((r) => (r.ok ? r.value : -1))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(source.pulled).toBe(50);
    expect(maxAhead).toBeLessThanOrEqual(5);

    // Only what the first workers need is read before any of them finishes.
    const lazy = countingSource(1_000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const running = runBatch(
      lazy,
      async (n) => {
        await gate;
        return n;
      },
      { concurrency: 4, readAhead: 1 },
    );
    await sleep(20);
    expect(lazy.pulled).toBe(5);
    release();
    await running;
    expect(lazy.pulled).toBe(1_000);
  });

  it('the input failing stops the batch and rejects with its error after running items finish', async () => {
    async function* broken(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      throw new Error('disk gone');
    }
    const delivered: number[] = [];
    await expect(
      runBatch(
        broken(),
        async (n) => {
          await sleep(10);
          return n;
        },
        { onResult: (r) => delivered.push(r.ok ? r.value : -1) },
      ),
    ).rejects.toThrow('disk gone');
    expect(delivered.sort()).toEqual([1, 2]);
  });

  it('an onResult exception stops the batch and rejects with it', async () => {
    const boom = new Error('onResult broke');
    let calls = 0;
    await expect(
      runBatch(
        Array.from({ length: 50 }, (_, i) => i),
        async (n) => {
          calls++;
          await sleep(1);
          return n;
        },
        {
          concurrency: 2,
          onResult: () => {
            throw boom;
          },
        },
      ),
    ).rejects.toBe(boom);
    expect(calls).toBeLessThan(50);
  });
});

describe('runBatch with a limiter', () => {
  it('gives each item its own lease sized by `acquire`, and releases it', async () => {
    const limiter = new Limiter({ concurrency: 2, tokens: { limit: 1_000, windowMs: 60_000 } });
    let maxHeld = 0;
    const results = await runBatch(
      [100, 200, 300],
      async (tokens, { lease }) => {
        maxHeld = Math.max(maxHeld, limiter.stats().inFlight);
        expect(lease).toBeDefined();
        await sleep(5);
        lease?.reconcile(tokens / 2);
        return tokens;
      },
      { limiter, acquire: (tokens) => ({ tokens }) },
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(maxHeld).toBeLessThanOrEqual(2);
    expect(limiter.stats().inFlight).toBe(0);
    expect(limiter.stats().tokens[0]?.used).toBe(300);
  });

  it('counts retries and 429s in progress, and a cost that never fits fails only its item', async () => {
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 60_000 } });
    let last: BatchProgress | undefined;
    const results = await runBatch(
      [1, 2, 3, 4, 5_000],
      (n, { attempt }) => {
        if (n % 2 === 0 && attempt === 1) {
          return new Response('{"error":{"message":"slow down"}}', { status: 429, headers: { 'retry-after-ms': '5' } });
        }
        return new Response(String(n));
      },
      { limiter, acquire: (n) => ({ tokens: n }), retry: { maxAttempts: 3 }, onProgress: (p) => (last = p) },
    );
    expect(results.slice(0, 4).every((r) => r.ok && r.value.status === 200)).toBe(true);
    expect(results[4]).toMatchObject({ ok: false, error: { name: 'CapacityError' } });
    expect(last).toMatchObject({ done: 5, succeeded: 4, failed: 1, retries: 2, rateLimited: 2 });
  });

  it('an item that keeps failing gets the RetryError, or the fallback', async () => {
    const failing = async (): Promise<string> => {
      throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    };
    const [plain] = await runBatch([1], failing, { retry: { maxAttempts: 2, baseDelayMs: 1 } });
    expect(plain).toMatchObject({ ok: false });
    expect((plain as { error: unknown }).error).toBeInstanceOf(RetryError);
    expect((plain as { error: RetryError }).error.attempts).toBe(2);
    const [fallen] = await runBatch([1], failing, { retry: { maxAttempts: 2, baseDelayMs: 1, fallback: 'default' } });
    expect(fallen).toEqual({ ok: true, value: 'default' });
  });

  it('on abort, items still waiting for a lease are dropped, never started', async () => {
    const limiter = new Limiter({ concurrency: 1 });
    const controller = new AbortController();
    const started: number[] = [];
    const delivered: number[] = [];
    let last: BatchProgress | undefined;
    const run = runBatch(
      [0, 1, 2, 3],
      async (n) => {
        started.push(n);
        await sleep(30);
        return n;
      },
      {
        limiter,
        concurrency: 4,
        signal: controller.signal,
        onResult: (_, i) => delivered.push(i),
        onProgress: (p) => (last = p),
      },
    );
    await sleep(10);
    expect(limiter.stats().queued).toBe(3);
    controller.abort(new Error('enough'));
    await expect(run).rejects.toThrow('enough');
    expect(started).toEqual([0]);
    expect(delivered).toEqual([0]);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
    expect(last).toMatchObject({ done: 1, queued: 0, inFlight: 0 });
  });

  it('with `acquire: false` takes no lease but still counts the limiter events the worker causes', async () => {
    const limiter = new Limiter({ concurrency: 1 });
    let last: BatchProgress | undefined;
    const results = await runBatch(
      [1, 2],
      (n, { lease }) => {
        expect(lease).toBeUndefined();
        limiter.emit('rateLimited', { status: 429, retryAfterMs: undefined, pauseMs: 0 });
        limiter.emit('retry', { attempt: 1, delayMs: 0, error: undefined, reason: 'rate-limited' });
        return n;
      },
      { limiter, acquire: false, concurrency: 2, onProgress: (p) => (last = p) },
    );
    expect(results).toEqual([
      { ok: true, value: 1 },
      { ok: true, value: 2 },
    ]);
    expect(last).toMatchObject({ retries: 2, rateLimited: 2 });
    expect(limiter.listenerCount('retry')).toBe(0);
  });
});

describe('streamBatch', () => {
  it('10,000 items with bounded memory: never more than concurrency + readAhead read and unfinished', async () => {
    const concurrency = 8;
    const readAhead = 4;
    let pulled = 0;
    let finished = 0;
    let consumed = 0;
    let maxUnfinished = 0;
    let maxUntaken = 0;
    async function* items(): AsyncGenerator<number> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        maxUnfinished = Math.max(maxUnfinished, pulled - finished);
        maxUntaken = Math.max(maxUntaken, pulled - consumed);
        yield i;
      }
    }
    const seen = new Uint8Array(10_000);
    for await (const r of streamBatch(
      items(),
      async (n) => {
        // Uneven work, so results complete out of order.
        if (n % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
        finished++;
        if (n % 1_000 === 999) throw new Error(`bad ${n}`);
        return n * 2;
      },
      { concurrency, readAhead },
    )) {
      consumed++;
      seen[r.index] = (seen[r.index] ?? 0) + 1;
      if (r.ok) expect(r.value).toBe(r.index * 2);
      else expect((r.error as Error).message).toBe(`bad ${r.index}`);
      // A slow consumer now and then: the reading must wait for it.
      if (r.index % 2_000 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(consumed).toBe(10_000);
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(maxUnfinished).toBeLessThanOrEqual(concurrency + readAhead);
    // A result taken by the loop frees its slot just before the loop body runs: one more at most.
    expect(maxUntaken).toBeLessThanOrEqual(concurrency + readAhead + 1);
  });

  it('yields in completion order with each item index', async () => {
    const order: number[] = [];
    for await (const r of streamBatch([40, 0, 20], async (ms) => {
      await sleep(ms);
      return ms;
    })) {
      expectTypeOf(r).toEqualTypeOf<BatchStreamResult<number>>();
      if (r.ok) expectTypeOf(r.value).toBeNumber();
      order.push(r.index);
    }
    expect(order).toEqual([1, 2, 0]);
  });

  it('a consumer that breaks stops the batch: running workers are aborted and the input is closed', async () => {
    const source = countingSource(1_000_000);
    const signals: AbortSignal[] = [];
    let got = 0;
    for await (const r of streamBatch(
      source,
      async (n, { signal }) => {
        signals.push(signal);
        await new Promise((resolve) => setTimeout(resolve, n === 0 ? 1 : 50));
        return n;
      },
      { concurrency: 4, readAhead: 2 },
    )) {
      expect(r.index).toBe(0);
      got++;
      break;
    }
    expect(got).toBe(1);
    expect(source.closed).toBe(true);
    expect(source.pulled).toBeLessThanOrEqual(7);
    expect(signals.slice(1).every((s) => s.aborted)).toBe(true);
  });

  it('after an abort yields the items that finish, then throws the reason', async () => {
    const controller = new AbortController();
    const indexes: number[] = [];
    const consume = async (): Promise<void> => {
      for await (const r of streamBatch(
        Array.from({ length: 50 }, (_, i) => i),
        async (n) => {
          await sleep(15);
          return n;
        },
        { concurrency: 3, signal: controller.signal },
      )) {
        indexes.push(r.index);
        if (indexes.length === 4) controller.abort('halt');
      }
    };
    await expect(consume()).rejects.toBe('halt');
    // The 4th arrives with two others of its round still running: they finish and are yielded.
    expect(indexes.length).toBeGreaterThanOrEqual(5);
    expect(indexes.length).toBeLessThanOrEqual(9);
    expect(new Set(indexes).size).toBe(indexes.length);
  });
});
