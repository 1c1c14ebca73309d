import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter, type Lease, type LimitOptions } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

interface ModelEntry {
  start: number;
  input: number;
  output: number;
  cancelled: boolean;
  released: boolean;
}

const op = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      input: fc.integer({ min: 0, max: 90 }),
      output: fc.integer({ min: 0, max: 40 }),
      priority: fc.integer({ min: 0, max: 2 }),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }),
      abortable: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  fc.record({
    kind: fc.constant('reconcile' as const),
    pick: fc.nat(),
    input: fc.integer({ min: 0, max: 150 }),
    output: fc.integer({ min: 0, max: 80 }),
  }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
  fc.record({
    kind: fc.constant('update' as const),
    requests: fc.integer({ min: 1, max: 6 }),
    tokens: fc.integer({ min: 50, max: 400 }),
    concurrency: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  }),
);

describe('random schedules (property)', () => {
  it('never admits over any window, budget, cap or pause; every promise settles; close leaves nothing', async () => {
    let admissions = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 20, maxLength: 80 }),
        fc.integer({ min: 0, max: 40 }),
        async (ops, margin) => {
          const clock = new FakeClock();
          let limits = {
            requests: [
              { limit: 4, windowMs: 1_000 },
              { limit: 10, windowMs: 5_000 },
            ],
            tokens: { limit: 300, windowMs: 1_000 },
            inputTokens: { limit: 250, windowMs: 2_000 },
            concurrency: 3 as number | undefined,
          };
          const limiter = new Limiter({ ...limits, marginMs: margin, clock });
          const model: ModelEntry[] = [];
          let pausedUntil = 0;
          const violations: string[] = [];

          // Checked at the moment of admission, against what the model says is in each window.
          limiter.on('acquired', ({ input, output }) => {
            const now = clock.now();
            const entry: ModelEntry = { start: now, input, output, cancelled: false, released: false };
            const live = [...model, entry].filter((e) => !e.cancelled);
            const inWindow = (windowMs: number) => live.filter((e) => e.start + windowMs + margin > now);
            for (const w of limits.requests) {
              if (inWindow(w.windowMs).length > w.limit) violations.push(`requests ${w.limit}/${w.windowMs} at ${now}`);
            }
            // A reconcile may charge more than was reserved (the tokens were really used), so a budget
            // can be overdrawn; what must hold is that an admission adding tokens never overdraws it.
            const total = inWindow(limits.tokens.windowMs).reduce((s, e) => s + e.input + e.output, 0);
            if (input + output > 0 && total > limits.tokens.limit)
              violations.push(`tokens ${total} > ${limits.tokens.limit} at ${now}`);
            const inputs = inWindow(limits.inputTokens.windowMs).reduce((s, e) => s + e.input, 0);
            if (input > 0 && inputs > limits.inputTokens.limit) violations.push(`input ${inputs} at ${now}`);
            const held = model.filter((e) => !e.released).length + 1;
            if (limits.concurrency !== undefined && held > limits.concurrency)
              violations.push(`concurrency ${held} at ${now}`);
            if (now < pausedUntil) violations.push(`admitted at ${now} during a pause until ${pausedUntil}`);
            model.push(entry);
          });

          const leases: { lease: Lease; entry: ModelEntry }[] = [];
          const pending: { controller: AbortController; settled: boolean }[] = [];
          const promises: Promise<unknown>[] = [];
          let resolvedCount = 0;

          for (const o of ops) {
            switch (o.kind) {
              case 'acquire': {
                const controller = new AbortController();
                const record = { controller, settled: false };
                pending.push(record);
                const p = limiter
                  .acquire({
                    tokens: { input: o.input, output: o.output },
                    priority: o.priority,
                    ...(o.abortable ? { signal: controller.signal } : {}),
                    ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
                  })
                  .then(
                    (lease) => {
                      // Leases resolve in the order they were admitted (and their events fired).
                      leases.push({ lease, entry: model[resolvedCount++] as ModelEntry });
                    },
                    () => undefined,
                  )
                  .finally(() => (record.settled = true));
                promises.push(p);
                break;
              }
              case 'advance':
                await clock.advance(o.ms);
                break;
              case 'abort': {
                const open = pending.filter((p) => !p.settled);
                open[o.pick % Math.max(1, open.length)]?.controller.abort(new Error('aborted'));
                break;
              }
              case 'release': {
                const pick = leases[o.pick % Math.max(1, leases.length)];
                if (pick) {
                  // The model changes first: a release admits the next waiter synchronously.
                  pick.entry.released = true;
                  pick.lease.release();
                }
                break;
              }
              case 'reconcile': {
                const pick = leases[o.pick % Math.max(1, leases.length)];
                if (pick && !pick.entry.cancelled) {
                  pick.entry.input = o.input;
                  pick.entry.output = o.output;
                  pick.lease.reconcile({ input: o.input, output: o.output });
                }
                break;
              }
              case 'cancel': {
                const pick = leases[o.pick % Math.max(1, leases.length)];
                if (pick) {
                  pick.entry.cancelled = true;
                  pick.entry.released = true;
                  pick.lease.cancel();
                }
                break;
              }
              case 'pause':
                pausedUntil = Math.max(pausedUntil, clock.now() + o.ms);
                limiter.pause(o.ms);
                break;
              case 'update':
                limits = {
                  ...limits,
                  requests: [
                    { limit: o.requests, windowMs: 1_000 },
                    limits.requests[1] as { limit: number; windowMs: number },
                  ],
                  tokens: { limit: o.tokens, windowMs: 1_000 },
                  concurrency: o.concurrency,
                };
                limiter.updateLimits({
                  requests: limits.requests,
                  tokens: limits.tokens,
                  concurrency: o.concurrency,
                } satisfies LimitOptions);
                break;
            }
            await clock.flush();
          }
          await clock.advance(10_000);
          await limiter.close();
          await clock.flush();
          const outcome = await Promise.race([
            Promise.all(promises).then(() => 'settled'),
            clock.flush().then(() => 'hanging'),
          ]);
          admissions += model.length;
          expect(violations).toEqual([]);
          expect(outcome).toBe('settled');
          expect(limiter.stats().queued).toBe(0);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
    // The schedules must exercise the limiter, not just pass by admitting nothing.
    expect(admissions).toBeGreaterThan(500);
  });
});
