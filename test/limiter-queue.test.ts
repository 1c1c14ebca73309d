import { describe, expect, it, vi } from 'vitest';
import {
  AcquireTimeoutError,
  CapacityError,
  Limiter,
  LimiterClosedError,
  QueueFullError,
  type Lease,
} from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

function perSecond(limit: number, clock: FakeClock, extra: Partial<ConstructorParameters<typeof Limiter>[0]> = {}) {
  return new Limiter({ requests: { limit, windowMs: 1_000 }, clock, ...extra });
}

describe('queue order', () => {
  it('serves equal priorities first in, first out, and higher priority first', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock);
    await limiter.acquire();
    const order: string[] = [];
    const track = (name: string, priority?: number) =>
      limiter.acquire(priority === undefined ? {} : { priority }).then(() => order.push(name));
    const all = [track('a'), track('b'), track('urgent', 5), track('c'), track('later', -1), track('urgent2', 5)];
    for (let i = 0; i < 6; i++) await clock.advance(1_000);
    await Promise.all(all);
    expect(order).toEqual(['urgent', 'urgent2', 'a', 'b', 'c', 'later']);
  });

  it('tryAcquire succeeds only when nobody of its priority or higher is queued', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ concurrency: 1, clock });
    const held = await limiter.acquire();
    const waiting = limiter.acquire();
    held.release();
    // The waiter takes the freed slot; a tryAcquire cannot jump in between.
    expect(limiter.tryAcquire()).toBeUndefined();
    (await waiting).release();
    expect(limiter.tryAcquire()).toBeDefined();
  });
});

describe('concurrency', () => {
  it('holds a slot until release; release and dispose are idempotent', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ concurrency: 2, clock });
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    let third: Lease | undefined;
    const c = limiter.acquire().then((l) => (third = l));
    await clock.flush();
    expect(third).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    a.release();
    a.release();
    await a[Symbol.asyncDispose]();
    a[Symbol.dispose]();
    await c;
    expect(limiter.stats().inFlight).toBe(2);
    b.release();
    third?.release();
    expect(limiter.stats().inFlight).toBe(0);
  });

  it('run() releases when fn throws', async () => {
    const limiter = new Limiter({ concurrency: 1, clock: new FakeClock() });
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(limiter.stats().inFlight).toBe(0);
    await expect(limiter.run((lease) => lease.waitedMs)).resolves.toBe(0);
  });
});

describe('atomic acquire', () => {
  it('never holds a concurrency slot while waiting for a window', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, concurrency: 5, clock });
    await limiter.acquire();
    const waiting = limiter.acquire();
    await clock.advance(500);
    expect(limiter.stats().inFlight).toBe(1);
    expect(limiter.stats().requests[0]?.used).toBe(1);
    await clock.advance(500);
    await waiting;
    expect(limiter.stats().inFlight).toBe(2);
  });
});

describe('one timer', () => {
  it('sets exactly one timer for the head, and none while nobody waits', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 60_000 }, clock });
    await limiter.acquire();
    expect(clock.pendingTimers).toBe(0);
    const waiters = Array.from({ length: 50 }, () => limiter.acquire({ timeoutMs: 1_000_000 }));
    await clock.flush();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(60_000);
    await limiter.close();
    await Promise.allSettled(waiters);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('abort, timeout and queue cap', () => {
  it('an aborted waiter rejects with the signal reason and those behind it move up', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 100, windowMs: 1_000 }, clock });
    await limiter.acquire({ tokens: 50 });
    const controller = new AbortController();
    const big = limiter.acquire({ tokens: 100, signal: controller.signal });
    let smallDone = false;
    const small = limiter.acquire({ tokens: 40 }).then(() => (smallDone = true));
    await clock.flush();
    expect(smallDone).toBe(false);
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(big).rejects.toBe(reason);
    await small;
    expect(limiter.stats()).toMatchObject({ queued: 0 });
    expect(limiter.stats().tokens[0]?.used).toBe(90);
  });

  it('an already-aborted signal rejects at once with its reason and charges nothing', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock: new FakeClock() });
    const signal = AbortSignal.abort(new Error('already'));
    await expect(limiter.acquire({ signal })).rejects.toThrow('already');
    expect(limiter.stats().requests[0]?.used).toBe(0);
  });

  it('timeoutMs rejects with AcquireTimeoutError when reached', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ concurrency: 1, clock });
    await limiter.acquire();
    const waiting = limiter.acquire({ timeoutMs: 300 });
    const assertion = expect(waiting).rejects.toMatchObject({
      name: 'AcquireTimeoutError',
      timeoutMs: 300,
      waitedMs: 300,
    });
    await clock.advance(300);
    await assertion;
    expect(limiter.stats().queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once when the computed wait already exceeds timeoutMs', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock);
    await limiter.acquire();
    await expect(limiter.acquire({ timeoutMs: 999 })).rejects.toMatchObject({
      name: 'AcquireTimeoutError',
      waitedMs: 0,
    });
    // Queued behind another waiter, the same rule applies from its own earliest start.
    const first = limiter.acquire();
    await expect(limiter.acquire({ timeoutMs: 500 })).rejects.toBeInstanceOf(AcquireTimeoutError);
    await clock.advance(1_000);
    await first;
    expect(limiter.stats().queued).toBe(0);
  });

  it('a queued waiter whose head wait outgrows its deadline is rejected at once, not at the deadline', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock);
    await limiter.acquire();
    const ok = limiter.acquire({ timeoutMs: 2_000 });
    limiter.pause(5_000);
    await expect(ok).rejects.toMatchObject({ name: 'AcquireTimeoutError', waitedMs: 0 });
  });

  it('maxQueue rejects the waiter beyond it at once', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock, { maxQueue: 2 });
    await limiter.acquire();
    const a = limiter.acquire();
    const b = limiter.acquire();
    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
    await clock.advance(2_000);
    await Promise.all([a, b]);
  });
});

describe('pause', () => {
  it('blocks admissions until it ends; extends, never shortens', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock });
    limiter.pause(1_000);
    limiter.pause(200);
    expect(limiter.stats().pausedForMs).toBe(1_000);
    expect(limiter.tryAcquire()).toBeUndefined();
    let at = -1;
    const waiting = limiter.acquire().then(() => (at = clock.now()));
    await clock.advance(600);
    limiter.pause(800);
    await clock.advance(799);
    expect(at).toBe(-1);
    await clock.advance(1);
    await waiting;
    expect(at).toBe(1_400);
  });

  it('emits paused', () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    const paused = vi.fn();
    limiter.on('paused', paused);
    limiter.pause(250);
    expect(paused).toHaveBeenCalledWith({ ms: 250, until: 250 });
  });
});

describe('updateLimits', () => {
  it('a raised limit wakes waiters at once', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock);
    await limiter.acquire();
    let admitted = 0;
    const waiters = [limiter.acquire(), limiter.acquire()].map((p) => p.then(() => admitted++));
    await clock.advance(10);
    limiter.updateLimits({ requests: { limit: 3, windowMs: 1_000 } });
    await Promise.all(waiters);
    expect(admitted).toBe(2);
    expect(clock.now()).toBe(10);
  });

  it('keeps counting requests already started against the new limits', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(10, clock);
    for (let i = 0; i < 5; i++) await limiter.acquire();
    limiter.updateLimits({ requests: { limit: 6, windowMs: 1_000 } });
    expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
  });

  it('a lowered limit that makes a waiting cost impossible rejects that waiter with CapacityError', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 1_000 }, clock });
    await limiter.acquire({ tokens: 900 });
    const big = limiter.acquire({ tokens: 800 });
    const small = limiter.acquire({ tokens: 100 });
    limiter.updateLimits({ tokens: { limit: 500, windowMs: 1_000 } });
    await expect(big).rejects.toBeInstanceOf(CapacityError);
    await clock.advance(1_000);
    await small;
  });

  it('removing a limit with undefined frees waiters', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ concurrency: 1, clock });
    await limiter.acquire();
    const waiting = limiter.acquire();
    limiter.updateLimits({ concurrency: undefined });
    await waiting;
    expect(limiter.limits.concurrency).toBeUndefined();
  });
});

describe('close', () => {
  it('rejects every waiter with LimiterClosedError and later acquires at once', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock);
    const held = await limiter.acquire();
    const waiters = [limiter.acquire(), limiter.acquire({ timeoutMs: 10_000 })];
    await limiter.close();
    for (const w of waiters) await expect(w).rejects.toBeInstanceOf(LimiterClosedError);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(LimiterClosedError);
    expect(() => limiter.tryAcquire()).toThrow(LimiterClosedError);
    held.release();
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0, closed: true });
    expect(clock.pendingTimers).toBe(0);
  });

  it('is what `await using` on the limiter does', async () => {
    const clock = new FakeClock();
    let waiting: Promise<Lease> | undefined;
    {
      await using limiter = perSecond(1, clock);
      await limiter.acquire();
      waiting = limiter.acquire();
    }
    await expect(waiting).rejects.toBeInstanceOf(LimiterClosedError);
  });
});

describe('events', () => {
  it('emits queued, acquired, released, rejected and idle', async () => {
    const clock = new FakeClock();
    const limiter = perSecond(1, clock, { concurrency: 5 });
    const events: string[] = [];
    for (const name of ['queued', 'acquired', 'released', 'rejected', 'idle'] as const) {
      limiter.on(name, () => events.push(name));
    }
    const a = await limiter.acquire();
    const b = limiter.acquire();
    const controller = new AbortController();
    const c = limiter.acquire({ signal: controller.signal });
    controller.abort();
    await expect(c).rejects.toThrow();
    a.release();
    await clock.advance(1_000);
    (await b).release();
    expect(events).toEqual(['acquired', 'queued', 'queued', 'rejected', 'released', 'acquired', 'released', 'idle']);
  });

  it('follows listeners added and removed: off() and once() stop the events', async () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    const acquired = vi.fn();
    const idle = vi.fn();
    limiter.on('acquired', acquired);
    limiter.once('idle', idle);
    (await limiter.acquire()).release();
    (await limiter.acquire()).release();
    expect(acquired).toHaveBeenCalledTimes(2);
    expect(idle).toHaveBeenCalledTimes(1);
    limiter.off('acquired', acquired);
    (await limiter.acquire()).release();
    expect(acquired).toHaveBeenCalledTimes(2);
  });
});

describe('events for observers', () => {
  it('rejected says how long the caller waited; reconciled says what was charged before and after', async () => {
    const clock = new FakeClock();
    // Waiting on a release: no wait known in advance, so a timeout runs its course.
    const limiter = new Limiter({ concurrency: 1, tokens: { limit: 1_000, windowMs: 1_000 }, clock });
    const rejected: { reason: string; waitedMs: number }[] = [];
    limiter.on('rejected', ({ reason, waitedMs }) => rejected.push({ reason, waitedMs }));
    const lease = await limiter.acquire({ tokens: { input: 100, output: 50 } });
    const late = limiter.acquire({ timeoutMs: 400 }).catch((error: unknown) => error);
    await clock.advance(250);
    await expect(limiter.acquire({ tokens: 2_000 })).rejects.toBeInstanceOf(CapacityError);
    await clock.advance(200);
    expect(await late).toBeInstanceOf(AcquireTimeoutError);
    expect(rejected).toEqual([
      { reason: 'capacity', waitedMs: 0 },
      { reason: 'timeout', waitedMs: 400 },
    ]);
    const reconciled: unknown[] = [];
    limiter.on('reconciled', (event) => reconciled.push(event));
    lease.reconcile({ input: 90, output: 12 });
    lease.reconcile({ input: 95, output: 12 }, { estimate: true });
    expect(reconciled).toEqual([
      { input: 90, output: 12, reservedInput: 100, reservedOutput: 50, estimate: false },
      { input: 95, output: 12, reservedInput: 90, reservedOutput: 12, estimate: true },
    ]);
  });
});
