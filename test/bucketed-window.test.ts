import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import type { WindowEntry } from '../src/windows/request-window.js';
import { BUCKETS_PER_WINDOW, BucketedTokenWindow } from '../src/windows/bucketed-token-window.js';
import { TokenWindow } from '../src/windows/token-window.js';

/*
 * A long token window kept in buckets, against the exact log on the same operations: it never
 * counts less (so never admits past the limit) and never holds back more than one bucket: what it
 * counts beyond the log is part of its oldest bucket, and it frees room at most one bucket's width
 * after the log would.
 */

const HOUR = 3_600_000;
const WIDTH = HOUR / BUCKETS_PER_WINDOW;

const op = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      input: fc.integer({ min: 0, max: 400 }),
      output: fc.integer({ min: 0, max: 200 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: HOUR / 8 }) }),
  },
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('reconcile' as const),
    pick: fc.nat(),
    input: fc.integer({ min: 0, max: 400 }),
    output: fc.integer({ min: 0, max: 200 }),
  }),
  fc.record({ kind: fc.constant('restamp' as const), pick: fc.nat(), ms: fc.integer({ min: 0, max: HOUR / 20 }) }),
);

describe('a bucketed long token window, against the exact log', () => {
  it('never counts less, holds back at most its oldest bucket, and frees room at most one bucket width later', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 150 }),
        fc.integer({ min: 500, max: 20_000 }),
        (ops, limit) => {
          const bucketed = new BucketedTokenWindow<WindowEntry>('tokens', limit, HOUR, HOUR);
          const exact = new TokenWindow<WindowEntry>('tokens', limit, HOUR, HOUR);
          // One entry object per window, as each store keeps its own.
          const live: { b: WindowEntry; e: WindowEntry }[] = [];
          let now = 1_000;
          for (const o of ops) {
            if (o.kind === 'advance') now += o.ms;
            else if (o.kind === 'add') {
              const amount = o.input + o.output;
              // Admitted only where the bucketed window says it fits: it must fit the exact log too.
              if (bucketed.earliest(amount, now) > now) continue;
              expect(exact.earliest(amount, now)).toBe(now);
              const b = { start: now, input: o.input, output: o.output };
              const e = { ...b };
              bucketed.add(b);
              exact.add(e);
              live.push({ b, e });
            } else if (live.length > 0) {
              const i = o.pick % live.length;
              const { b, e } = live[i] as { b: WindowEntry; e: WindowEntry };
              if (o.kind === 'cancel') {
                bucketed.remove(b, now);
                exact.remove(e, now);
                live.splice(i, 1);
              } else if (o.kind === 'reconcile') {
                const cost = { input: o.input, output: o.output };
                bucketed.recharge(b, cost, now);
                exact.recharge(e, cost, now);
                Object.assign(b, cost);
                Object.assign(e, cost);
              } else {
                const at = Math.min(now, b.start + o.ms);
                if (at <= b.start) continue;
                bucketed.remove(b, now);
                exact.remove(e, now);
                b.start = at;
                e.start = at;
                bucketed.insert(b, now);
                exact.insert(e, now);
              }
            }
            const counted = bucketed.used(now);
            const truth = exact.used(now);
            expect(counted).toBeGreaterThanOrEqual(truth - 1e-6);
            const oldest = [...bucketed.summary()][0];
            expect(counted - truth).toBeLessThanOrEqual((oldest ? oldest.input + oldest.output : 0) + 1e-6);
            for (const amount of [1, limit / 2, limit]) {
              const room = bucketed.earliest(amount, now);
              const exactRoom = exact.earliest(amount, now);
              expect(room).toBeGreaterThanOrEqual(exactRoom);
              if (Number.isFinite(exactRoom)) expect(room - exactRoom).toBeLessThanOrEqual(WIDTH + 1e-6);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a limiter with a daily token budget at its limit: the next waits until its bucket leaves, under one width past the exact time', async () => {
    const clock = new FakeClock();
    const DAY = 86_400_000;
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: DAY }, clock });
    (await limiter.acquire({ tokens: 500 })).release();
    await clock.advance(100_000);
    (await limiter.acquire({ tokens: 500 })).release();
    let admittedAt: number | undefined;
    const next = limiter.acquire({ tokens: 500 }).then((lease) => {
      admittedAt = clock.now();
      return lease;
    });
    // Exactly, the first 500 leave at one day; in buckets of 864 s, both count until the second leaves.
    await clock.advance(DAY - 100_000 - 1);
    expect(admittedAt).toBeUndefined();
    await clock.advance(100_000 + 1);
    expect(admittedAt).toBe(DAY + 100_000);
    expect((admittedAt as number) - DAY).toBeLessThanOrEqual(DAY / BUCKETS_PER_WINDOW);
    (await next).release();
    await limiter.close();
  });
});
