import { describe, expect, it } from 'vitest';
import { type Block, type Lease, Limiter, LimiterRegistry, type QueuedEvent } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { SlowStore } from './helpers/slow-store.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const types = (blocks: readonly Block[] | undefined) => blocks?.map((b) => b.type);

describe('limiter.diagnose()', () => {
  it('nobody waiting: no head, and the counts', async () => {
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_000 }, clock: new FakeClock() });
    await limiter.acquire();
    expect(limiter.diagnose()).toEqual({ at: 0, queued: 0, inFlight: 1, head: undefined });
  });

  it('a full request window: its use and when it frees; the rest counted', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 2, windowMs: 1_000 }, clock });
    await limiter.acquire();
    await clock.advance(300);
    await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire({ priority: -1 })];
    await clock.advance(100);
    const d = limiter.diagnose();
    expect(d).toMatchObject({ at: 400, queued: 2, inFlight: 2 });
    expect(d.head).toEqual({
      waitedMs: 100,
      priority: 0,
      tokens: { input: 0, output: 0 },
      blockedBy: [
        {
          type: 'window',
          kind: 'requests',
          windowMs: 1_000,
          limit: 2,
          used: 2,
          othersShare: 0,
          needs: 1,
          freesAt: 1_000,
          freesInMs: 600,
        },
      ],
      startsAt: 1_000,
    });
    await clock.advance(1_300);
    await Promise.all(waiting);
  });

  it("a token budget with others' share learned from the headers", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 60_000 }, clock });
    const lease = await limiter.acquire({ tokens: 300 });
    // The server says 200 remain: others used 500.
    limiter.observe(
      { provider: 'openai', tokens: { limit: 1_000, remaining: 200, resetMs: 30_000 } },
      { since: lease.acquiredAt },
    );
    const waiting = limiter.acquire({ tokens: { input: 250, output: 100 } });
    const [block] = limiter.diagnose().head?.blockedBy ?? [];
    expect(block).toMatchObject({
      type: 'window',
      kind: 'tokens',
      limit: 1_000,
      used: 300,
      othersShare: 500,
      needs: 350,
    });
    expect(block?.type === 'window' && block.freesInMs).toBeGreaterThan(0);
    await limiter.close();
    await waiting.catch(() => undefined);
  });

  it('concurrency, fixed and adaptive', async () => {
    const clock = new FakeClock();
    const fixed = new Limiter({ concurrency: 1, clock });
    await fixed.acquire();
    const a = fixed.acquire();
    expect(fixed.diagnose().head?.blockedBy).toEqual([{ type: 'concurrency', limit: 1, inFlight: 1, adaptive: false }]);
    expect(fixed.diagnose().head?.startsAt).toBe(Number.POSITIVE_INFINITY);
    const adaptive = new Limiter({ concurrency: { adaptive: true, max: 10, initial: 2 }, clock });
    await adaptive.acquire();
    await adaptive.acquire();
    const b = adaptive.acquire();
    expect(adaptive.diagnose().head?.blockedBy).toEqual([
      { type: 'concurrency', limit: 2, inFlight: 2, adaptive: true },
    ]);
    await Promise.all([fixed.close(), adaptive.close()]);
    await Promise.allSettled([a, b]);
  });

  it("a pause: after this limiter's 429, or pause()", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ clock });
    limiter.rateLimited({ retryAfterMs: 2_000 });
    const waiting = limiter.acquire();
    expect(limiter.diagnose().head?.blockedBy).toEqual([
      { type: 'pause', until: 2_000, forMs: 2_000, reason: 'rate-limited' },
    ]);
    limiter.pause(5_000);
    expect(limiter.diagnose().head?.blockedBy).toEqual([
      { type: 'pause', until: 5_000, forMs: 5_000, reason: 'paused' },
    ]);
    await clock.advance(5_000);
    await waiting;
  });

  it('the pace after repeated 429s', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock });
    const a = await limiter.acquire();
    limiter.rateLimited({ admittedAt: a.acquiredAt });
    await clock.advance(1_000);
    const b = await limiter.acquire();
    limiter.rateLimited({ admittedAt: b.acquiredAt });
    await clock.advance(125);
    await limiter.acquire();
    const waiting = limiter.acquire();
    expect(limiter.diagnose().head?.blockedBy).toEqual([{ type: 'pace', intervalMs: 125, until: 1_250, forMs: 125 }]);
    await clock.advance(125);
    await waiting;
  });

  it('first contact: one request until the provider has answered', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ limits: 'auto', clock });
    const first = await limiter.acquire();
    const waiting = limiter.acquire();
    expect(types(limiter.diagnose().head?.blockedBy)).toEqual(['first-contact']);
    limiter.observe({ provider: 'openai' });
    first.release();
    await waiting;
  });

  it('an asynchronous store: its answer on the wire; windows from its usage, without when they free', async () => {
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 60_000 }, store });
    expect(limiter.capabilities.windowTimes).toBe(false);
    await limiter.acquire();
    const waiting = limiter.acquire().catch(() => undefined);
    // The head is being asked.
    expect(types(limiter.diagnose().head?.blockedBy)).toEqual(['window', 'store']);
    await settle();
    const [block] = limiter.diagnose().head?.blockedBy ?? [];
    expect(block).toEqual({
      type: 'window',
      kind: 'requests',
      windowMs: 60_000,
      limit: 1,
      used: 1,
      othersShare: 0,
      needs: 1,
      freesAt: undefined,
      freesInMs: undefined,
    });
    await limiter.close();
    await waiting;
  });
});

describe('what blocked, in the queued and acquired events', () => {
  it('queued says what holds a caller back (and the queue ahead); acquired says what it waited on', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock });
    const queued: QueuedEvent[] = [];
    const acquired: { waitedMs: number; blockedBy: readonly Block[] }[] = [];
    limiter.on('queued', (event) => queued.push(event));
    limiter.on('acquired', ({ waitedMs, blockedBy }) => acquired.push({ waitedMs, blockedBy }));
    await limiter.acquire();
    const leases: Promise<Lease>[] = [limiter.acquire(), limiter.acquire()];
    expect(queued.map((e) => [e.queued, types(e.blockedBy)])).toEqual([
      [1, ['window']],
      [2, ['queue', 'window']],
    ]);
    await clock.advance(2_000);
    await Promise.all(leases);
    expect(acquired.map((e) => [e.waitedMs, types(e.blockedBy)])).toEqual([
      [0, []],
      [1_000, ['window']],
      [2_000, ['queue', 'window']],
    ]);
  });
});

describe('registry.diagnose()', () => {
  it("gives every limiter's diagnosis with its provider and model group", async () => {
    const clock = new FakeClock();
    const registry = new LimiterRegistry({
      clock,
      providers: { openai: { models: { 'gpt-4o': { requests: { limit: 1, windowMs: 1_000 } } } } },
    });
    const limiter = registry.get('openai', 'gpt-4o-2024-08-06');
    await limiter.acquire();
    const waiting = limiter.acquire();
    registry.get('openai', 'gpt-4o-mini');
    const all = registry.diagnose();
    expect(all.map((d) => [d.provider, d.model, d.diagnosis.queued])).toEqual([
      ['openai', 'gpt-4o', 1],
      ['openai', 'gpt-4o-mini', 0],
    ]);
    await clock.advance(1_000);
    await waiting;
  });
});
