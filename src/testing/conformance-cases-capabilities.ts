import { AcquireTimeoutError } from '../core/errors.js';
import type { Lease } from '../limiter/lease.js';
import type { Limiter } from '../limiter/limiter.js';
import { acquireMany, allAtOnce } from './conformance-cases-windows.js';
import type { ConformanceCaseSpec } from './conformance-harness.js';
import type { Tracked } from './conformance-recording.js';

/*
 * What a store declares: `synchronous` (tryAcquire, and no promises anywhere), the one-admission-
 * at-a-time protocol of asynchronous stores, and each optional method: admitMany, earliest,
 * restamp, learnOthersShare (withdraw is with the waiters).
 */

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The methods a synchronous store is driven through in the synchronous case. */
const EXERCISED = ['configure', 'admit', 'reconcile', 'cancel', 'release', 'pause', 'usage'] as const;

const synchronous: ConformanceCaseSpec = {
  name: 'synchronous store: tryAcquire() returns leases, and no method answers with a promise',
  needs: { synchronous: true },
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 3 per ${w} ms with a token budget of 100`;
    const limiter = h.limiter({ requests: { limit: 3, windowMs: w }, tokens: { limit: 100, windowMs: w } });
    const take = (label: string, tokens: number): Lease | undefined => {
      try {
        return limiter.tryAcquire({ tokens });
      } catch (error) {
        throw new Error(`${limits}: tryAcquire() for ${label} threw ${describeError(error)}`);
      }
    };
    const must = (label: string, tokens: number, why: string): Lease => {
      const lease = take(label, tokens);
      if (lease === undefined) throw new Error(`${limits}: tryAcquire() returned undefined for ${label} (${why})`);
      return lease;
    };
    const a = must('the 1st start', 10, 'every limit allows it');
    a.reconcile(5);
    if (h.raw.restamp !== undefined) a.restamp();
    const b = must('the 2nd start', 10, 'every limit allows it');
    must('the 3rd start', 10, 'every limit allows it');
    if (take('a 4th start', 0) !== undefined)
      throw new Error(`${limits}: tryAcquire() returned a lease for a 4th start`);
    b.cancel();
    const d = must('a 4th start', 10, 'the 2nd was cancelled');
    d.cancel();
    limiter.pause(w / 10);
    if (take('a start during a pause', 0) !== undefined) {
      throw new Error(`${limits}: tryAcquire() returned a lease during a pause`);
    }
    // Queued during the pause: asks earliest for a caller with a deadline, and withdraw when it leaves.
    const controller = new AbortController();
    const queued = h.track('a waiter', () => limiter.acquire({ signal: controller.signal }));
    const hurried = h.track('a waiter with timeoutMs 1', () => limiter.acquire({ timeoutMs: 1 }));
    if (h.raw.learnOthersShare !== undefined) {
      limiter.observe({ provider: 'openai', requests: { limit: 3, remaining: 1, resetMs: w, windowMs: w } });
    }
    limiter.stats();
    controller.abort(new Error('left'));
    await h.advanceTo(h.now() + 1);
    a.release();
    if (queued.state === 'waiting' || hurried.state === 'waiting') {
      throw new Error(`${limits}: waiters that left or timed out during a pause were still waiting`);
    }
    for (const call of h.log.calls) {
      if (call.thenable && call.method !== 'close') {
        throw new Error(`store.${call.method} returned a promise although the store declares \`synchronous: true\``);
      }
    }
    for (const method of EXERCISED) {
      if (h.log.count(method) === 0) throw new Error(`the limiter never called store.${method}: the case is broken`);
    }
  },
};

const oneAdmit: ConformanceCaseSpec = {
  name: 'asynchronous store: one admit at a time',
  needs: { synchronous: false },
  async run(h) {
    const w = h.windowMs;
    const contract = `window of 10 per ${w} ms, 10 acquires at once`;
    const limiter = h.limiter({ requests: { limit: 10, windowMs: w } });
    await allAtOnce(h, acquireMany(h, limiter, 10), contract);
    if (h.log.maxAdmitting > 1) {
      throw new Error(
        `${contract}: ${h.log.maxAdmitting} admission answers (store.admit or store.admitMany) were awaited at once, not one at a time`,
      );
    }
  },
};

const admitMany: ConformanceCaseSpec = {
  name: 'admitMany: admits a prefix in queue order, never one behind a request that waits',
  needs: { synchronous: false, batchAdmit: true },
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 3 per ${w} ms with a token budget of 100`;
    const limiter = h.limiter({ requests: { limit: 3, windowMs: w }, tokens: { limit: 100, windowMs: w } });
    // The 1st is asked alone (admit); the rest queue behind its answer and are asked together.
    const costs = [10, 60, 50, 10, 10];
    const ordinals = ['1st', '2nd', '3rd', '4th', '5th'];
    const [p1, p2, p3, p4, p5] = costs.map((tokens, i) =>
      h.track(`the ${ordinals[i]} start (${tokens} tokens)`, () => limiter.acquire({ tokens })),
    ) as [Tracked, Tracked, Tracked, Tracked, Tracked];
    const [, second] = await allAtOnce(h, [p1, p2], `${limits}: 10 then 60 tokens`);
    if (h.log.count('admitMany') === 0) {
      throw new Error(
        `${limits}: 5 acquires at once, and the limiter never called store.admitMany: the case is broken`,
      );
    }
    const contract = `${limits}, 70 tokens taken: the 3rd (50 tokens) does not fit`;
    await h.waiting(p4, `${contract}, so the 4th (10 tokens, which would) must not overtake it`);
    await h.waiting(p5, `${contract}, so the 5th must not overtake it`);
    const end = h.startOf(second as Lease) + w;
    const again = `${limits}: the 2nd leaves the token window at ${h.fmt(end)}`;
    await h.admittedAt(p3, end, `${again}, and the 3rd starts then`);
    await h.admittedAt(p4, end, `${again}: the 4th starts with the 3rd`);
    await h.admittedAt(p5, end, `${again}: the 5th starts with the 3rd`);
  },
};

const earliest: ConformanceCaseSpec = {
  name: 'earliest: a wait beyond timeoutMs is rejected at once, and earliest takes nothing',
  needs: { earlyTimeout: true },
  async run(h) {
    const long = h.real ? 2 * h.windowMs : 5_000;
    const timeoutMs = h.real ? h.windowMs / 10 : 100;
    const limits = `window of 1 per ${long} ms`;
    const limiter: Limiter = h.limiter({ requests: { limit: 1, windowMs: long } });
    const a = await h.startNow(limiter, 'the 1st start', limits);
    // A waiter ahead: a newcomer is not asked through admit, only through earliest.
    const controller = new AbortController();
    const queued = h.track('a waiter', () => limiter.acquire({ signal: controller.signal }));
    await h.waiting(queued, limits);
    const hurried: Tracked = h.track(`a start with timeoutMs ${timeoutMs}`, () => limiter.acquire({ timeoutMs }));
    const contract = `${limits}: a wait of about ${long} ms with timeoutMs ${timeoutMs}`;
    const error = await h.rejectedBy(hurried, hurried.issuedAt, `${contract} must be rejected at once`);
    if (!(error instanceof AcquireTimeoutError) || error.waitedMs !== 0) {
      throw new Error(`${contract} was rejected with ${describeError(error)}, not at once with AcquireTimeoutError`);
    }
    if (h.log.count('earliest') === 0) throw new Error(`${contract}: the limiter never asked store.earliest`);
    controller.abort(new Error('left'));
    await h.rejectedBy(queued, h.now(), `${limits}: an aborted waiter`);
    const next = h.track('the next start', () => limiter.acquire());
    const end = h.startOf(a) + long;
    await h.admittedAt(next, end, `${limits}: store.earliest must take nothing, so the next starts at ${h.fmt(end)}`);
  },
};

const restamp: ConformanceCaseSpec = {
  name: 'restamp: a restamped request counts from its new start',
  needs: { arrivalTime: true },
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 1 per ${w} ms`;
    const limiter = h.limiter({ requests: { limit: 1, windowMs: w } });
    const a = await h.startNow(limiter, 'the 1st start', limits);
    await h.advanceTo(a.acquiredAt + 0.3 * w);
    const at = h.now();
    a.restamp();
    await h.settle();
    const next = h.track('the next start', () => limiter.acquire());
    const contract = `${limits}: the 1st start, restamped at ${h.fmt(at)}, counts until ${h.fmt(at + w)}`;
    await h.waiting(next, contract);
    await h.admittedAt(next, at + w, contract);
  },
};

const othersShare: ConformanceCaseSpec = {
  name: 'learnOthersShare: a report that less remains lowers what is admitted',
  needs: { othersShare: true },
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 10 per ${w} ms`;
    const limiter = h.limiter({ requests: { limit: 10, windowMs: w } });
    await allAtOnce(h, acquireMany(h, limiter, 3), limits);
    limiter.observe({ provider: 'openai', requests: { limit: 10, remaining: 2, resetMs: w, windowMs: w } });
    const contract = `${limits}, 3 starts of ours, and the server says 2 remain (others used 5)`;
    const [p4, p5, p6] = acquireMany(h, limiter, 3, 3) as [Tracked, Tracked, Tracked];
    await allAtOnce(h, [p4, p5], `${contract}: 2 more may start`);
    await h.waiting(p6, `${contract}: no more may start`);
  },
};

/** The cases of what a store declares. */
export const CAPABILITY_CASES: readonly ConformanceCaseSpec[] = [
  synchronous,
  oneAdmit,
  admitMany,
  earliest,
  restamp,
  othersShare,
];
