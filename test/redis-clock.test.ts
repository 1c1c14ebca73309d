import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, Limiter } from '../src/index.js';
import { asksOf } from '../src/redis/admit-protocol.js';
import { RedisStore } from '../src/redis/index.js';
import { ADMIT, ADMIT_STATUS, FORGET, PROBE, RENEW, type RedisScript, SCRIPTS } from '../src/redis/scripts.js';
import { FakeClock } from '../src/testing/index.js';

/**
 * The Redis store's own logic on the limiter's fake clock: command timeouts, outage probes, lease
 * renewals and the conversion of Redis's times, with a scripted client standing in for the server
 * (windows themselves are Redis's to measure; the other Redis tests run them on a real server).
 */

interface Sent {
  readonly script: RedisScript | undefined;
  readonly args: readonly string[];
  answer(reply: unknown): void;
  fail(error: Error): void;
}

/** A client whose every command waits for the test to answer it. */
class ScriptedClient {
  readonly sent: Sent[] = [];

  send(args: readonly string[]): Promise<unknown> {
    const script = SCRIPTS.find((s) => s.sha === args[1] || s.source === args[1]);
    return new Promise((resolve, reject) => {
      this.sent.push({ script, args, answer: resolve, fail: reject });
    });
  }

  of(script: RedisScript): Sent[] {
    return this.sent.filter((s) => s.script === script);
  }
}

/**
 * The admit script's reply for one request: Redis's now, the pause, leases in use, peers, the
 * state's generation, no usage, then the request's status and start.
 */
function admitReply(status: number, nowUs: number, atUs: number): number[] {
  return [nowUs, 0, 1, 1, 1, 0, status, atUs];
}

function setup(options: { concurrency?: number } = {}) {
  const clock = new FakeClock(1_000);
  const client = new ScriptedClient();
  const store = new RedisStore({ client, key: 'clock', commandTimeoutMs: 10, leaseTtlMs: 3_000, probeIntervalMs: 800 });
  const limiter = new Limiter({ requests: { limit: 10, windowMs: 60_000 }, store, clock, ...options });
  const events: string[] = [];
  store.on('outage', () => events.push(`outage at ${clock.now()}`));
  store.on('recovered', ({ outageMs }) => events.push(`recovered at ${clock.now()} after ${outageMs} ms`));
  return { clock, client, store, limiter, events };
}

describe('Redis store on the limiter fake clock', () => {
  it('times a command out after commandTimeoutMs of the fake clock, then probes after 100, 200, 400, 800, 800 ms', async () => {
    const { clock, client, store, limiter, events } = setup();
    const first = limiter.acquire();
    await clock.advance(0);
    expect(client.of(ADMIT)).toHaveLength(1);
    // Real time does not run a fake clock's timeout: three times commandTimeoutMs later, still waiting.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(events).toEqual([]);
    await clock.advance(9);
    expect(events).toEqual([]);
    await clock.advance(1);
    expect(events).toEqual(['outage at 1010']);
    // The local policy admitted it meanwhile.
    const lease = await first;
    expect(store.state).toBe('outage');
    const probesAt: number[] = [];
    for (const step of [100, 200, 400, 800, 800]) {
      await clock.advance(step - 1);
      expect(client.of(PROBE)).toHaveLength(probesAt.length);
      await clock.advance(1);
      probesAt.push(clock.now());
      const probe = client.of(PROBE).at(-1);
      expect(probe, `a probe at ${clock.now()}`).toBeDefined();
      // Each probe fails after its own timeout... except the last, which Redis answers.
      if (probesAt.length < 5) probe?.fail(new Error('ECONNREFUSED'));
      else probe?.answer(1);
      await clock.advance(0);
    }
    expect(probesAt).toEqual([1110, 1310, 1710, 2510, 3310]);
    expect(events).toEqual(['outage at 1010', 'recovered at 3310 after 2300 ms']);
    expect(store.state).toBe('redis');
    // Back in Redis, the entry whose admission timed out is given back (the script may have run).
    const admitted = client.of(ADMIT)[0] as Sent;
    const admittedId = asksOf(admitted.args.slice(3 + Number(admitted.args[2])))[0]?.id;
    // Its start unknown (-1): the log alone can place it.
    expect(client.of(FORGET).map((s) => s.args.slice(-6))).toEqual([['1', admittedId, '-1', '0', '0', '0']]);
    lease.release();
    // close() waits for the writes still on the wire, on the same clock.
    let closed = false;
    void limiter.close().then(() => {
      closed = true;
    });
    await clock.advance(0);
    expect(closed).toBe(false);
    await clock.advance(10);
    expect(closed).toBe(true);
  });

  it('converts a booked slot from Redis time to the fake clock, and rejects a caller behind it at once (earliest)', async () => {
    const { clock, client, limiter } = setup();
    const waiter = limiter.acquire();
    await clock.advance(0);
    // Redis says: now is 50 s on its clock, and the slot starts 2 s later.
    await clock.advance(5);
    client.of(ADMIT)[0]?.answer(admitReply(ADMIT_STATUS.booked, 50_000_000, 52_000_000));
    await clock.advance(0);
    // The answer came at 1005: the slot starts 2 s after that on the limiter's clock.
    const hurried = limiter.acquire({ timeoutMs: 1_000 });
    const error = await hurried.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect((error as AcquireTimeoutError).waitedMs).toBe(0);
    await clock.advance(1_999);
    let admitted = false;
    void waiter.then(() => {
      admitted = true;
    });
    await clock.advance(0);
    expect(admitted).toBe(false);
    await clock.advance(1);
    expect(admitted).toBe(true);
    // One call: the booking is honoured without asking Redis again.
    expect(client.of(ADMIT)).toHaveLength(1);
    (await waiter).release();
    await limiter.close();
  });

  it('renews a held concurrency lease every third of leaseTtlMs on the fake clock, and stops when it is released', async () => {
    const { clock, client, limiter } = setup({ concurrency: 2 });
    const acquiring = limiter.acquire();
    await clock.advance(0);
    client.of(ADMIT)[0]?.answer(admitReply(ADMIT_STATUS.admitted, 7_000_000, 7_000_000));
    const lease = await acquiring;
    await clock.advance(999);
    expect(client.of(RENEW)).toHaveLength(0);
    await clock.advance(1);
    expect(client.of(RENEW)).toHaveLength(1);
    client.of(RENEW)[0]?.answer(1);
    await clock.advance(1_000);
    expect(client.of(RENEW)).toHaveLength(2);
    client.of(RENEW)[1]?.answer(1);
    lease.release();
    await clock.advance(5_000);
    expect(client.of(RENEW)).toHaveLength(2);
    for (const s of client.sent) s.answer(1);
    await limiter.close();
  });
});

describe('what the Redis store does not keep', () => {
  it('declares it cannot say when its windows free, without a call to Redis', () => {
    const client = new ScriptedClient();
    const limiter = new Limiter({
      requests: { limit: 10, windowMs: 60_000 },
      store: new RedisStore({ client, key: 'k' }),
    });
    expect(limiter.capabilities.windowTimes).toBe(false);
    expect(client.sent).toEqual([]);
  });
});
