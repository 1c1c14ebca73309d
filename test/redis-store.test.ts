import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, Limiter, type Lease } from '../src/index.js';
import { RedisStore, quotaKeys, type RedisCommandClient } from '../src/redis/index.js';
import {
  describeWithRedis,
  ioredisClient,
  nodeRedisClient,
  recordCommands,
  recordedEntries,
  startRedisCluster,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';
import { eventually } from './helpers/eventually.js';
import { sleep } from './helpers/sleep.js';
import { maxInAnyWindow, maxSumInAnyWindow } from './helpers/windows.js';

type Client = Awaited<ReturnType<typeof nodeRedisClient>> | Awaited<ReturnType<typeof ioredisClient>>;

/** Sends a raw command through either client. */
function raw(client: Client, args: string[]): Promise<unknown> {
  return 'call' in client && typeof client.status === 'string'
    ? (client as { call: (...a: string[]) => Promise<unknown> }).call(...args)
    : (client as { sendCommand: (a: string[]) => Promise<unknown> }).sendCommand(args);
}

describeWithRedis('RedisStore', () => {
  let server: RedisServer;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await server?.stop();
  });

  const connectors = {
    'node-redis': () => nodeRedisClient(server.port),
    ioredis: () => ioredisClient(server.port),
  } as const;

  async function connect(kind: keyof typeof connectors): Promise<Client> {
    const client = await connectors[kind]();
    closers.push(() => ('destroy' in client ? client.destroy() : client.disconnect()));
    return client;
  }

  describe.each(['node-redis', 'ioredis'] as const)('with %s', (kind) => {
    it('keeps a request window across two limiters on one key, one call per admission', async () => {
      const client = await connect(kind);
      const record = recordCommands(client);
      const key = uniqueKey('window');
      const a = new Limiter({ requests: { limit: 3, windowMs: 300 }, store: new RedisStore({ client, key }) });
      const b = new Limiter({ requests: { limit: 3, windowMs: 300 }, store: new RedisStore({ client, key }) });
      const t0 = performance.now();
      const leases = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).acquire()));
      const elapsed = performance.now() - t0;
      for (const lease of leases) lease.release();
      const starts = recordedEntries(record).map((e) => e.at);
      expect(starts).toHaveLength(12);
      expect(maxInAnyWindow(starts, 300_000)).toBe(3);
      // Four windows' worth: the last three start at 900 ms; the booked slots are not late.
      expect(elapsed).toBeGreaterThanOrEqual(880);
      expect(elapsed).toBeLessThan(1_500);
      // One script call per admission, plus at most one script-cache miss per store (and a new
      // booking for any that came due while this busy machine stalled the event loop).
      expect((record.commands.admit ?? 0) - (record.commands.rebook ?? 0)).toBeLessThanOrEqual(12 + 2);
      expect(a.stats().requests[0]?.limit).toBe(3);
      await Promise.all([a.close(), b.close()]);
    });

    it('charges tokens, refunds by reconcile, gives back on cancel', async () => {
      const client = await connect(kind);
      const key = uniqueKey('tokens');
      const store = new RedisStore({ client, key });
      const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 400 }, store });
      // Entry charges ("input,output" under each entry's id, which has a '.'), and the running totals
      // the script keeps beside them in the quota's state.
      const charged = async (): Promise<number> => {
        // One read, so a write landing in between cannot tear it.
        const flat = (await raw(client, [
          'EVAL',
          "return redis.call('HGETALL', KEYS[1])",
          '1',
          store.keys.state,
        ])) as string[];
        let sum = 0;
        let totals = 0;
        for (let i = 0; i < flat.length; i += 2) {
          const field = flat[i] as string;
          const amount = (flat[i + 1] as string).split(',').reduce((m, x) => m + Number(x), 0);
          if (field === 'in' || field === 'out') totals += amount;
          else if (field.includes('.')) sum += amount;
        }
        expect(totals).toBeCloseTo(sum, 6);
        return sum;
      };
      const a = await limiter.acquire({ tokens: 600 });
      a.reconcile({ input: 150, output: 50 });
      await eventually(async () => (await charged()) === 200);
      const b = await limiter.acquire({ tokens: { input: 500, output: 200 } });
      expect(b.waitedMs).toBeLessThan(100);
      b.cancel();
      await eventually(async () => (await charged()) === 200);
      const c = await limiter.acquire({ tokens: 800 });
      expect(c.waitedMs).toBeLessThan(100);
      // Full: 1,000 charged. The next waits for `a` (200) to leave the window.
      const d = await limiter.acquire({ tokens: 150 });
      expect(d.acquiredAt - a.acquiredAt).toBeGreaterThanOrEqual(380);
      expect(d.acquiredAt - a.acquiredAt).toBeLessThan(900);
      for (const lease of [a, c, d]) lease.release();
      await limiter.close();
    });

    it('shares a concurrency cap between limiters and frees it on release', async () => {
      const client = await connect(kind);
      const key = uniqueKey('conc');
      const a = new Limiter({ concurrency: 2, store: new RedisStore({ client, key, pollMs: 20 }) });
      const b = new Limiter({ concurrency: 2, store: new RedisStore({ client, key, pollMs: 20 }) });
      const first = await a.acquire();
      const second = await b.acquire();
      let third: Lease | undefined;
      const waiting = a.acquire().then((lease) => (third = lease));
      await sleep(100);
      expect(third).toBeUndefined();
      second.release();
      await waiting;
      expect(third?.waitedMs).toBeGreaterThanOrEqual(90);
      expect(third?.waitedMs).toBeLessThan(400);
      expect(await raw(client, ['ZCARD', quotaKeys('forestall:v2', key).conc])).toBe(2);
      first.release();
      third?.release();
      await eventually(async () => (await raw(client, ['ZCARD', quotaKeys('forestall:v2', key).conc])) === 0);
      await Promise.all([a.close(), b.close()]);
    });

    it('a pause by one limiter holds the other', async () => {
      const client = await connect(kind);
      const key = uniqueKey('pause');
      const a = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, store: new RedisStore({ client, key }) });
      const b = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, store: new RedisStore({ client, key }) });
      (await b.acquire()).release();
      const pausedAt = performance.now();
      a.pause(300);
      await sleep(20);
      // Both stores share one connection, so the pause is written before b asks.
      const lease = await b.acquire();
      const held = performance.now() - pausedAt;
      expect(held).toBeGreaterThanOrEqual(295);
      expect(held).toBeLessThan(800);
      expect(b.stats().pausedForMs).toBe(0);
      lease.release();
      await Promise.all([a.close(), b.close()]);
    });

    it('falls back to EVAL when the script cache was flushed', async () => {
      const client = await connect(kind);
      const record = recordCommands(client);
      const limiter = new Limiter({
        requests: { limit: 10, windowMs: 1_000 },
        store: new RedisStore({ client, key: uniqueKey('flush') }),
      });
      (await limiter.acquire()).release();
      await raw(client, ['SCRIPT', 'FLUSH']);
      const evals = record.evals;
      (await limiter.acquire()).release();
      expect(record.evals).toBe(evals + 1);
      (await limiter.acquire()).release();
      expect(record.evals).toBe(evals + 1);
      await limiter.close();
    });
  });

  describe('with node-redis', () => {
    let client: Client;
    beforeAll(async () => {
      client = await connect('node-redis');
    });

    it('acquire({ timeoutMs: 0 }), the way to ask Redis "only if it can start now": starts, then is refused', async () => {
      const store = new RedisStore({ client, key: uniqueKey('t0') });
      const limiter = new Limiter({ requests: { limit: 1, windowMs: 60_000 }, store });
      const lease = await limiter.acquire({ timeoutMs: 0 });
      lease.release();
      await expect(limiter.acquire({ timeoutMs: 0 })).rejects.toBeInstanceOf(AcquireTimeoutError);
      expect(limiter.stats().queued).toBe(0);
      // The slot Redis booked for the refused one is given back: only the first counts.
      await eventually(async () => Number(await raw(client, ['ZCARD', store.keys.log])) === 1);
    });

    it('a short token budget beside a long one: each binds, whichever is read first', async () => {
      const limiter = new Limiter({
        tokens: [
          { limit: 100, windowMs: 300 },
          { limit: 150, windowMs: 900 },
        ],
        store: new RedisStore({ client, key: uniqueKey('short-long') }),
      });
      const t0 = performance.now();
      const at = async (tokens: number): Promise<number> => {
        (await limiter.acquire({ tokens })).release();
        return performance.now() - t0;
      };
      expect(await at(60)).toBeLessThan(250);
      expect(await at(40)).toBeLessThan(250);
      // The short budget is full: the third waits for the first two to leave it (300 ms).
      expect(await at(50)).toBeGreaterThanOrEqual(290);
      // 150 in the long one now: the fourth waits for the first to leave it (900 ms).
      expect(await at(10)).toBeGreaterThanOrEqual(890);
    });

    it('keeps token budgets for input and output apart', async () => {
      const record = recordCommands(client);
      const limiter = new Limiter({
        inputTokens: { limit: 1_000, windowMs: 300 },
        outputTokens: { limit: 300, windowMs: 300 },
        store: new RedisStore({ client, key: uniqueKey('io') }),
      });
      const leases = await Promise.all(
        Array.from({ length: 8 }, () => limiter.acquire({ tokens: { input: 400, output: 100 } })),
      );
      for (const lease of leases) lease.release();
      const entries = recordedEntries(record);
      // Three per window by output (300 / 100), two by input (1,000 / 400): input decides.
      expect(
        maxInAnyWindow(
          entries.map((e) => e.at),
          300_000,
        ),
      ).toBe(2);
      expect(
        maxSumInAnyWindow(
          entries.map((e) => ({ start: e.at, amount: e.tokens })),
          300_000,
        ),
      ).toBeLessThanOrEqual(1_000);
      await limiter.close();
    });

    it('books no slot on entries just admitted when leases are counted from arrival (expectRestamps)', async () => {
      const book = async (expect: boolean): Promise<Record<string, number>> => {
        const record = recordCommands(client);
        const store = new RedisStore({ client, key: uniqueKey('settled') });
        if (expect) store.expectRestamps();
        const limiter = new Limiter({ requests: { limit: 2, windowMs: 400 }, store });
        const leases = await Promise.all(Array.from({ length: 3 }, () => limiter.acquire()));
        for (const lease of leases) lease.release();
        await limiter.close();
        return record.statuses;
      };
      // Counted from admission: the third is booked the slot the first frees, in the same call.
      expect((await book(false)).booked).toBe(1);
      // Counted from arrival, the first two may still move later: the third asks again when room
      // would come (by then it is half a window old), rather than book on them.
      const later = await book(true);
      expect(later.booked ?? 0).toBe(0);
      expect(later.wait).toBeGreaterThanOrEqual(1);
    });

    it("counts others' share of a budget whose limit JavaScript and Lua write differently (2e14)", async () => {
      const store = new RedisStore({ client, key: uniqueKey('big') });
      const limiter = new Limiter({ tokens: { limit: 2e14, windowMs: 60_000 }, store });
      (await limiter.acquire({ tokens: 1 })).release();
      // The headers say half the budget is gone: others used it.
      limiter.observe({
        provider: 'openai',
        tokens: { limit: 2e14, remaining: 1e14, resetMs: 60_000, windowMs: 60_000 },
      });
      await eventually(async () => (await raw(client, ['EXISTS', store.keys.others])) === 1);
      await expect(limiter.acquire({ tokens: 1.5e14, timeoutMs: 0 })).rejects.toThrow();
      // What is left beside the share fits (once the slot booked for the refused one is given back).
      await eventually(async () => {
        const lease = await limiter.acquire({ tokens: 5e13, timeoutMs: 0 }).catch(() => undefined);
        lease?.release();
        return lease !== undefined;
      });
      await limiter.close();
    });

    it('gives back a booked slot when its caller aborts', async () => {
      const record = recordCommands(client);
      const key = uniqueKey('abort');
      const store = new RedisStore({ client, key });
      const a = new Limiter({ requests: { limit: 1, windowMs: 400 }, store });
      const b = new Limiter({ requests: { limit: 1, windowMs: 400 }, store: new RedisStore({ client, key }) });
      (await a.acquire()).release();
      const controller = new AbortController();
      const gone = a.acquire({ signal: controller.signal });
      await eventually(async () => (record.statuses.booked ?? 0) === 1);
      expect(await raw(client, ['ZCARD', store.keys.log])).toBe(2);
      controller.abort(new Error('left'));
      await expect(gone).rejects.toThrow('left');
      await eventually(async () => (await raw(client, ['ZCARD', store.keys.log])) === 1);
      // The slot at 400 ms is free again: b gets it, not the one at 800 ms.
      const lease = await b.acquire();
      expect(lease.waitedMs).toBeLessThan(650);
      lease.release();
      await Promise.all([a.close(), b.close()]);
    });

    it('a resent admission is not admitted twice', async () => {
      const key = uniqueKey('resend');
      const record = recordCommands(client);
      const send = (args: readonly string[]): Promise<unknown> => raw(client, [...args]);
      let doubled = 0;
      // A client that sends every command twice, as a resend after a reconnect would.
      const twice: RedisCommandClient = {
        async send(args) {
          await send(args);
          doubled++;
          return send(args);
        },
      };
      const store = new RedisStore({ client: twice, key });
      const limiter = new Limiter({ requests: { limit: 2, windowMs: 300 }, concurrency: 5, store });
      const leases = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire()));
      // Several admissions may share a call; each call ran twice.
      expect(doubled).toBeGreaterThanOrEqual(2);
      // Each admission ran twice under one id: four entries, two per window, four leases.
      const entries = recordedEntries(record);
      expect(entries).toHaveLength(4);
      expect(
        maxInAnyWindow(
          entries.map((e) => e.at),
          300_000,
        ),
      ).toBe(2);
      expect(await raw(client, ['ZCARD', store.keys.conc])).toBe(4);
      expect(Math.max(...leases.map((l) => l.waitedMs))).toBeGreaterThanOrEqual(250);
      for (const lease of leases) lease.release();
      await eventually(async () => (await raw(client, ['ZCARD', store.keys.conc])) === 0);
      await limiter.close();
    });

    it('never lets the server clock run backwards', async () => {
      const key = uniqueKey('clock');
      const keys = quotaKeys('forestall:v2', key);
      const [seconds, micros] = (await raw(client, ['TIME'])) as string[];
      const ahead = Number(seconds) * 1_000_000 + Number(micros) + 60_000_000;
      await raw(client, ['HSET', keys.state, 'clock', String(ahead)]);
      const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_000 }, store: new RedisStore({ client, key }) });
      (await limiter.acquire()).release();
      const entries = (await raw(client, ['ZRANGE', keys.log, '0', '-1', 'WITHSCORES'])) as unknown[];
      const score = Number((entries.flat() as string[])[1]);
      expect(score).toBeGreaterThanOrEqual(ahead);
      await limiter.close();
    });

    it('puts every key under one hash tag, each with an expiry', async () => {
      const key = uniqueKey('keys');
      const store = new RedisStore({ client, key, prefix: 'app:rl' });
      const limiter = new Limiter({
        requests: { limit: 5, windowMs: 2_000 },
        tokens: { limit: 100, windowMs: 3_000 },
        concurrency: 3,
        store,
      });
      const lease = await limiter.acquire({ tokens: 10 });
      limiter.pause(1_000);
      // Someone else's use, as the headers show it: the others key.
      limiter.observe({ provider: 'openai', requests: { limit: 5, remaining: 2, resetMs: 2_000, windowMs: 2_000 } });
      await eventually(async () => (await raw(client, ['HEXISTS', store.keys.state, 'pause'])) === 1);
      await eventually(async () => (await raw(client, ['EXISTS', store.keys.others])) === 1);
      for (const name of Object.values(store.keys)) {
        expect(name.startsWith(`app:rl:{${key}}:`)).toBe(true);
        const ttl = (await raw(client, ['PTTL', name])) as number;
        expect(ttl, name).toBeGreaterThan(0);
        // Longest window (3 s) + lease ttl (30 s) + slack at most, or the peer horizon (60 s) + slack.
        expect(ttl, name).toBeLessThanOrEqual(66_000);
      }
      lease.release();
      await limiter.close();
    });

    it('reports usage at its latest admission, bookings included', async () => {
      const store = new RedisStore({ client, key: uniqueKey('usage') });
      const limiter = new Limiter({
        requests: { limit: 4, windowMs: 500 },
        tokens: { limit: 1_000, windowMs: 500 },
        store,
      });
      for (let i = 0; i < 3; i++) (await limiter.acquire({ tokens: 100 })).release();
      const stats = limiter.stats();
      expect(stats.requests[0]).toMatchObject({ limit: 4, used: 3, remaining: 1 });
      expect(stats.tokens[0]).toMatchObject({ limit: 1_000, used: 300, remaining: 700 });
      await limiter.close();
    });

    it('applies new limits at once', async () => {
      const record = recordCommands(client);
      const limiter = new Limiter({
        requests: { limit: 1, windowMs: 300 },
        store: new RedisStore({ client, key: uniqueKey('update') }),
      });
      (await limiter.acquire()).release();
      limiter.updateLimits({ requests: { limit: 3, windowMs: 300 } });
      const t0 = performance.now();
      await Promise.all([limiter.acquire(), limiter.acquire()]);
      expect(performance.now() - t0).toBeLessThan(250);
      expect(
        maxInAnyWindow(
          recordedEntries(record).map((e) => e.at),
          300_000,
        ),
      ).toBe(3);
      await limiter.close();
    });

    it('confirmBookings: a second call at the booked time, which honours a pause written meanwhile', async () => {
      const record = recordCommands(client);
      const key = uniqueKey('confirm');
      const a = new Limiter({
        requests: { limit: 1, windowMs: 200 },
        store: new RedisStore({ client, key, confirmBookings: true }),
      });
      const b = new Limiter({ requests: { limit: 1, windowMs: 200 }, store: new RedisStore({ client, key }) });
      (await a.acquire()).release();
      const booked = a.acquire();
      await eventually(async () => (record.statuses.booked ?? 0) === 1);
      b.pause(400);
      const lease = await booked;
      expect(lease.waitedMs).toBeGreaterThanOrEqual(380);
      // Booked, confirmed too late (paused), booked again after the pause, confirmed.
      expect(record.statuses.booked).toBeGreaterThanOrEqual(2);
      expect(record.commands.admit).toBeGreaterThanOrEqual(4);
      lease.release();
      await Promise.all([a.close(), b.close()]);
    });
  });
});

describeWithRedis('RedisStore on Redis Cluster', () => {
  let cluster: RedisServer;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs every script on a cluster (all keys in one slot), through node-redis and ioredis cluster clients', async () => {
    const nodeCluster = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: cluster.port } }] });
    nodeCluster.on('error', () => {});
    await nodeCluster.connect();
    const ioCluster = new Cluster([{ host: '127.0.0.1', port: cluster.port }], { lazyConnect: true });
    ioCluster.on('error', () => {});
    await ioCluster.connect();
    try {
      for (const client of [nodeCluster, ioCluster]) {
        const store = new RedisStore({ client, key: uniqueKey('cluster') });
        const failures: unknown[] = [];
        const limiter = new Limiter({
          requests: { limit: 2, windowMs: 200 },
          tokens: { limit: 500, windowMs: 200 },
          concurrency: 3,
          store,
        });
        limiter.on('storeError', (e) => failures.push(e.error));
        store.on('outage', (e) => failures.push(e.error));
        const leases = await Promise.all(Array.from({ length: 3 }, () => limiter.acquire({ tokens: 100 })));
        leases[0]?.reconcile(50);
        leases[1]?.cancel();
        limiter.pause(10);
        for (const lease of leases) lease.release();
        await sleep(50);
        expect(failures).toEqual([]);
        expect(store.state).toBe('redis');
        await limiter.close();
      }
    } finally {
      nodeCluster.destroy();
      ioCluster.disconnect();
    }
  });
});

describe('RedisStore without a server', () => {
  const client: RedisCommandClient = { send: () => Promise.resolve('OK') };

  it('rejects unknown and invalid options with clear messages', () => {
    expect(() => new RedisStore({ client, key: 'k', leaseTTL: 5 } as never)).toThrow(/Unknown option `leaseTTL`/);
    expect(() => new RedisStore({ client, key: 'a{b}' })).toThrow(/`key`/);
    expect(() => new RedisStore({ client, key: '' })).toThrow(/`key`/);
    expect(() => new RedisStore({ client: {} as never, key: 'k' })).toThrow(
      /node-redis client or cluster, an ioredis client/,
    );
    expect(() => new RedisStore({ client, key: 'k', onStoreError: 'fail' as never })).toThrow(/`onStoreError`/);
    expect(() => new RedisStore({ client, key: 'k', localShare: 2 })).toThrow(/`localShare`/);
    expect(() => new RedisStore({ client, key: 'k', commandTimeoutMs: 0 })).toThrow(/`commandTimeoutMs`/);
    expect(() => new RedisStore({ client, key: 'k', confirmBookings: 'yes' as never })).toThrow(/`confirmBookings`/);
  });

  it('names its keys with a versioned prefix and one hash tag', () => {
    expect(new RedisStore({ client, key: 'openai' }).keys).toEqual({
      log: 'forestall:v2:{openai}:log',
      conc: 'forestall:v2:{openai}:conc',
      state: 'forestall:v2:{openai}:state',
      peers: 'forestall:v2:{openai}:peers',
      others: 'forestall:v2:{openai}:others',
    });
  });

  it('recognizes node-redis and ioredis clients by shape', async () => {
    const sent: string[][] = [];
    const nodeLike = {
      sendCommand: (args: string[]) => {
        sent.push(args);
        return Promise.reject(new Error('offline'));
      },
    };
    const ioLike = {
      status: 'ready',
      call: (...args: string[]) => {
        sent.push(args);
        return Promise.reject(new Error('offline'));
      },
    };
    for (const client of [nodeLike, ioLike]) {
      const limiter = new Limiter({
        requests: { limit: 1, windowMs: 1_000 },
        store: new RedisStore({ client, key: 'k', onStoreError: 'open' }),
      });
      await limiter.acquire();
      await limiter.close();
    }
    expect(sent.map((args) => args[0])).toEqual(['EVALSHA', 'EVALSHA']);
  });

  it('an error reply that is not about reachability rejects the caller instead of falling back', async () => {
    class ReplyError extends Error {
      override readonly name = 'ReplyError';
    }
    const client: RedisCommandClient = {
      send: () => Promise.reject(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')),
    };
    const store = new RedisStore({ client, key: 'k' });
    const outages: unknown[] = [];
    store.on('outage', (e) => outages.push(e));
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, store });
    await expect(limiter.acquire()).rejects.toMatchObject({
      name: 'RedisStoreError',
      operation: 'admit',
      cause: expect.any(ReplyError),
    });
    expect(outages).toEqual([]);
    expect(store.state).toBe('redis');
    await limiter.close();
  });

  it("a dead connection switches to the policy at once, and 'local' uses the share", async () => {
    let calls = 0;
    const client: RedisCommandClient = {
      send: () => {
        calls++;
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
      },
    };
    const store = new RedisStore({ client, key: 'k', localShare: 0.25 });
    const events: string[] = [];
    store.on('outage', (e) => events.push(`${e.policy}: ${(e.error as Error).message}`));
    const limiter = new Limiter({ requests: { limit: 8, windowMs: 60_000 }, concurrency: 8, store });
    const leases = await Promise.all([limiter.acquire(), limiter.acquire()]);
    expect(events).toEqual(['local: connect ECONNREFUSED 127.0.0.1:1']);
    expect(limiter.stats().requests[0]).toMatchObject({ limit: 2, used: 2 });
    // A third would exceed the share: it waits (and times out here) rather than asking Redis.
    const before = calls;
    await expect(limiter.acquire({ timeoutMs: 50 })).rejects.toMatchObject({ name: 'AcquireTimeoutError' });
    expect(calls).toBe(before);
    for (const lease of leases) lease.release();
    await limiter.close();
  });
});
