import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, Limiter, type Lease } from '../src/index.js';
import { RedisStore, RedisTimeoutError, RedisUnavailableError, type RedisStoreOptions } from '../src/redis/index.js';
import {
  describeWithRedis,
  ioredisClient,
  nodeRedisClient,
  recordCommands,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';
import { eventually } from './helpers/eventually.js';

type Client = Awaited<ReturnType<typeof nodeRedisClient>> | Awaited<ReturnType<typeof ioredisClient>>;

const COMMAND_TIMEOUT_MS = 300;

function raw(client: Client, args: string[]): Promise<unknown> {
  return 'call' in client && typeof client.status === 'string'
    ? (client as { call: (...a: string[]) => Promise<unknown> }).call(...args)
    : (client as { sendCommand: (a: string[]) => Promise<unknown> }).sendCommand(args);
}

/** Redis may still be coming back: a check that fails counts as "not yet". */
const UNTIL_BACK = { timeoutMs: 3_000, intervalMs: 10, retryOnError: true } as const;

describeWithRedis('RedisStore when Redis fails', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  const cleanups: (() => unknown)[] = [];

  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    // Not one promise anywhere (store, limiter, client adapters) was left rejected and unheard.
    expect(unhandled).toEqual([]);
  });

  const connectors = { 'node-redis': nodeRedisClient, ioredis: ioredisClient } as const;

  async function setup(
    kind: keyof typeof connectors,
    options: Omit<RedisStoreOptions, 'client' | 'key'>,
  ): Promise<{ server: RedisServer; client: Client; store: RedisStore; events: string[] }> {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const client = await connectors[kind](server.port);
    cleanups.push(() => ('destroy' in client ? client.destroy() : client.disconnect()));
    const store = new RedisStore({
      client,
      key: uniqueKey('outage'),
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      probeIntervalMs: 200,
      ...options,
    });
    const events: string[] = [];
    store.on('outage', (e) => events.push(`outage:${e.policy}`));
    store.on('recovered', () => events.push('recovered'));
    return { server, client, store, events };
  }

  describe.each(['node-redis', 'ioredis'] as const)('with %s', (kind) => {
    it("'local': admits at its share while Redis is down, then goes back to Redis by itself", async () => {
      const { server, client, store, events } = await setup(kind, { onStoreError: 'local', localShare: 0.5 });
      const record = recordCommands(client);
      const limiter = new Limiter({ requests: { limit: 10, windowMs: 400 }, store });
      cleanups.push(() => limiter.close());
      for (let i = 0; i < 3; i++) (await limiter.acquire()).release();
      expect(store.state).toBe('redis');

      await server.kill();
      const t0 = performance.now();
      const times: number[] = [];
      const leases = await Promise.all(
        Array.from({ length: 7 }, () =>
          limiter.acquire().then((lease) => {
            times.push(performance.now() - t0);
            return lease;
          }),
        ),
      );
      for (const lease of leases) lease.release();
      expect(events).toEqual(['outage:local']);
      expect(store.state).toBe('outage');
      // Half of 10 per 400 ms, less the 3 this process had just admitted in Redis: 2 at once,
      // without waiting on the dead server; the rest once those 3 have left the window.
      const early = times.filter((t) => t < 250);
      expect(early).toHaveLength(2);
      expect(Math.min(...times.filter((t) => t >= 250))).toBeGreaterThanOrEqual(300);
      expect(limiter.stats().requests[0]).toMatchObject({ limit: 5 });

      await server.restart();
      await eventually(async () => events.includes('recovered'), UNTIL_BACK);
      expect(store.state).toBe('redis');
      // The window of the local admissions passes; the clean-up of the admission the outage cut
      // short (its own script-cache miss) lands meanwhile.
      await new Promise((r) => setTimeout(r, 400));
      const evals = record.evals;
      (await limiter.acquire()).release();
      // The restarted server has an empty script cache: EVALSHA missed, EVAL loaded it.
      expect(record.evals).toBe(evals + 1);
      expect(await raw(client, ['ZCARD', store.keys.log])).toBe(1);
    });

    it("'closed': rejects with RedisUnavailableError, and admits again after recovery", async () => {
      const { server, store, events } = await setup(kind, { onStoreError: 'closed' });
      const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, store });
      cleanups.push(() => limiter.close());
      (await limiter.acquire()).release();
      await server.kill();
      const t0 = performance.now();
      const error = await limiter.acquire().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - t0).toBeLessThan(COMMAND_TIMEOUT_MS + 200);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toMatchObject({ name: 'RedisUnavailableError', key: store.key });
      expect((error as Error).message).toMatch(/Redis is unavailable .* 'closed'/);
      expect((error as Error).cause).toBeDefined();
      // Later callers are rejected at once, without another try.
      await expect(limiter.acquire()).rejects.toBeInstanceOf(RedisUnavailableError);
      await server.restart();
      await eventually(async () => events.includes('recovered'), UNTIL_BACK);
      (await limiter.acquire()).release();
    });
  });

  it("'open': admits everything while Redis is down", async () => {
    const { server, store, events } = await setup('node-redis', { onStoreError: 'open' });
    const limiter = new Limiter({ requests: { limit: 2, windowMs: 1_000 }, concurrency: 1, store });
    cleanups.push(() => limiter.close());
    (await limiter.acquire()).release();
    await server.kill();
    const t0 = performance.now();
    const leases = await Promise.all(Array.from({ length: 20 }, () => limiter.acquire()));
    expect(performance.now() - t0).toBeLessThan(COMMAND_TIMEOUT_MS + 200);
    expect(events).toEqual(['outage:open']);
    for (const lease of leases) lease.release();
  });

  it('a hung server: no caller waits past the command timeout; leases released meanwhile are freed on recovery', async () => {
    const { server, client, store, events } = await setup('node-redis', { onStoreError: 'local', localShare: 1 });
    const outageErrors: unknown[] = [];
    store.on('outage', (e) => outageErrors.push(e.error));
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, concurrency: 5, store });
    cleanups.push(() => limiter.close());
    cleanups.push(() => server.thaw());
    const held: Lease = await limiter.acquire();

    server.freeze();
    const t0 = performance.now();
    const lease = await limiter.acquire();
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
    expect(waited).toBeLessThan(COMMAND_TIMEOUT_MS + 250);
    expect(outageErrors[0]).toBeInstanceOf(RedisTimeoutError);
    lease.release();
    // Released while Redis is out: the lease is freed once it is back, not after its ttl.
    held.release();

    server.thaw();
    await eventually(async () => events.includes('recovered'), UNTIL_BACK);
    // The admission that timed out may have run once the server woke; it is given back, and the
    // one the local share made instead is written back: the first and that one count.
    await eventually(async () => (await raw(client, ['ZCARD', store.keys.conc])) === 0, UNTIL_BACK);
    await eventually(async () => (await raw(client, ['ZCARD', store.keys.log])) === 2, UNTIL_BACK);
  });

  it("'local' starts from this process's own recent admissions: a share it had used up stays used", async () => {
    const { server, store, events } = await setup('node-redis', { onStoreError: 'local', localShare: 1 });
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_500 }, store });
    cleanups.push(() => limiter.close());
    const first = performance.now();
    for (let i = 0; i < 5; i++) (await limiter.acquire()).release();
    await server.kill();
    // Redis is gone: the sixth waits in the local books until the first of the five has left.
    (await limiter.acquire()).release();
    expect(events).toEqual(['outage:local']);
    expect(performance.now() - first).toBeGreaterThanOrEqual(1_450);
  });

  it('a reconcile made during an outage is written to Redis when it is back', async () => {
    const { server, client, store, events } = await setup('node-redis', { onStoreError: 'local', localShare: 1 });
    const limiter = new Limiter({ tokens: { limit: 10_000, windowMs: 60_000 }, store });
    cleanups.push(() => limiter.close());
    cleanups.push(() => server.thaw());
    const lease = await limiter.acquire({ tokens: 3_000 });
    expect(await raw(client, ['HGET', store.keys.state, 'in'])).toBe('3000');
    server.freeze();
    // An admission that meets the frozen server starts the outage.
    (await limiter.acquire()).release();
    expect(events).toEqual(['outage:local']);
    lease.reconcile(800);
    lease.release();
    server.thaw();
    await eventually(async () => events.includes('recovered'), UNTIL_BACK);
    // Redis holds what the request used, not what it reserved.
    await eventually(async () => (await raw(client, ['HGET', store.keys.state, 'in'])) === '800', UNTIL_BACK);
  });

  it("a reply merely slow, taken for an outage, does not open a budget Redis said was spent: 'local' holds what others used", async () => {
    const { server, client, store, events } = await setup('node-redis', { onStoreError: 'local', localShare: 1 });
    const tokens = { limit: 10_000, windowMs: 60_000 };
    const limiter = new Limiter({ tokens, store });
    cleanups.push(() => limiter.close());
    cleanups.push(() => server.thaw());
    // Another process of the key spends the budget.
    const other = new Limiter({ tokens, store: new RedisStore({ client, key: store.key }) });
    cleanups.push(() => other.close());
    (await other.acquire({ tokens: 9_500 })).release();
    // Ours hears that from Redis: only 500 left.
    (await limiter.acquire({ tokens: 400 })).release();
    server.freeze();
    // The admission that meets the frozen server starts the outage; 100 are left, as Redis said.
    (await limiter.acquire({ tokens: 100 })).release();
    expect(events).toEqual(['outage:local']);
    await expect(limiter.acquire({ tokens: 1_000, timeoutMs: 200 })).rejects.toThrow(AcquireTimeoutError);
    expect(limiter.stats().tokens[0]?.used).toBeGreaterThanOrEqual(10_000);
  });

  it('Redis restarted empty: what this process admitted, before and during the outage, is written back with its charges as they stand, and its leases', async () => {
    const { server, client, store, events } = await setup('node-redis', { onStoreError: 'local', localShare: 1 });
    const limiter = new Limiter({
      requests: { limit: 100, windowMs: 60_000 },
      tokens: { limit: 10_000, windowMs: 60_000 },
      concurrency: 10,
      store,
    });
    cleanups.push(() => limiter.close());
    const done = await limiter.acquire({ tokens: 1_000 });
    done.reconcile(400);
    done.release();
    const held = await limiter.acquire({ tokens: 1_000 });
    await server.kill();
    // The admission that meets the dead server starts the outage; the local share admits it.
    const local = await limiter.acquire({ tokens: 1_000 });
    expect(events).toEqual(['outage:local']);
    local.reconcile(300);
    held.reconcile(500);
    // Never sent: not written back.
    (await limiter.acquire({ tokens: 1_000 })).cancel();
    await server.restart();
    await eventually(async () => events.includes('recovered'), UNTIL_BACK);
    const count = async (command: string, key: string): Promise<unknown> => raw(client, [command, key]);
    await eventually(async () => (await count('ZCARD', store.keys.log)) === 3, UNTIL_BACK);
    await eventually(async () => (await raw(client, ['HGET', store.keys.state, 'in'])) === '1200', UNTIL_BACK);
    // The lease held across the outage and the local one still held count in Redis again.
    expect(await count('ZCARD', store.keys.conc)).toBe(2);
    local.release();
    held.release();
    await eventually(async () => (await count('ZCARD', store.keys.conc)) === 0, UNTIL_BACK);
    expect(await count('ZCARD', store.keys.log)).toBe(3);
  });

  it("the probe asks the node that serves the quota's key: a node that answers PING while the quota's is down ends no outage", async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const client = await nodeRedisClient(server.port);
    cleanups.push(() => client.destroy());
    // As a cluster client behaves when the master owning the quota's slot is down: commands on its
    // keys fail, a PING (sent to any live node) succeeds.
    let slotDown = false;
    const sent: string[] = [];
    const cluster = {
      send: async (args: readonly string[]) => {
        sent.push(args[0] as string);
        if (slotDown && args[0] !== 'PING') throw new Error('CLUSTERDOWN The cluster is down');
        return client.sendCommand([...args]);
      },
    };
    const store = new RedisStore({
      client: cluster,
      key: uniqueKey('slot'),
      onStoreError: 'local',
      localShare: 1,
      probeIntervalMs: 100,
    });
    const events: string[] = [];
    store.on('outage', () => events.push('outage'));
    store.on('recovered', () => events.push('recovered'));
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, store });
    cleanups.push(() => limiter.close());
    (await limiter.acquire()).release();
    slotDown = true;
    (await limiter.acquire()).release();
    // Probes for a while: none ends the outage, and admissions keep going from the local share.
    await new Promise((resolve) => setTimeout(resolve, 700));
    for (let i = 0; i < 5; i++) (await limiter.acquire()).release();
    expect(events).toEqual(['outage']);
    expect(store.state).toBe('outage');
    expect(sent).not.toContain('PING');
    slotDown = false;
    await eventually(async () => events.includes('recovered'), UNTIL_BACK);
    expect(events).toEqual(['outage', 'recovered']);
    expect(store.state).toBe('redis');
  });

  it('a client that was never connected (or was closed) counts as an outage', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const client = await nodeRedisClient(server.port);
    client.destroy();
    const store = new RedisStore({ client, key: uniqueKey('closed-client'), onStoreError: 'local' });
    const limiter = new Limiter({ requests: { limit: 4, windowMs: 1_000 }, store });
    cleanups.push(() => limiter.close());
    const outage = once(store, 'outage');
    (await limiter.acquire()).release();
    await outage;
    expect(store.state).toBe('outage');
  });
});
