/**
 * Section 1: an acquire that never has to wait, in each library's natural "take a permit" API.
 *
 * Fairness rules: every subject gets its own loop function (a shared loop calling different
 * closures would turn megamorphic and tax whoever runs later), all loops have the same shape (one
 * awaited call per iteration, sequential), limits are far above what a run can use so nothing
 * waits, and rounds are interleaved across subjects with a rotating order and a full GC before
 * each batch, so drift in machine load and garbage from one subject spread evenly.
 */
import Bottleneck from 'bottleneck';
import { RateLimiter } from 'limiter';
import PQueue from 'p-queue';
import pThrottle from 'p-throttle';
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { type AcquireOptions, type Lease, Limiter, SlidingWindowLimiter } from 'forestall';
import {
  QUICK,
  collect,
  fixed,
  gcNote,
  median,
  ns,
  table,
  verdict,
  type GoalResult,
  type SectionResult,
  goalsTable,
  noop,
  asyncNoop,
} from './core-util.js';

/** Far above anything a run reaches in one window, so no subject ever waits. */
const HIGH = 1_000_000_000;
const MAX_BATCH = 10_000;
/** Slow subjects (bottleneck runs each job on a timer) get smaller batches of about this length. */
const TARGET_BATCH_MS = 250;
/** A 10k batch longer than this (1 s) marks a subject as slow. */
const SLOW_BATCH_NS = 1e9;
const WARMUP_BATCHES = 3;
const ROUNDS = QUICK ? 7 : 11;

interface Running {
  /** Runs `n` calls; resolves to the last call's result, which the harness holds until the next batch. */
  loop(n: number): Promise<unknown>;
  close(): Promise<void>;
}

interface Subject {
  readonly name: string;
  readonly api: string;
  readonly role?: 'forestall-acquire' | 'forestall-try' | 'baseline';
  start(): Running;
}

/** Sequential awaited acquire + release on a forestall limiter; the last lease is the batch's result. */
function acquireLoop(limiter: Limiter, options?: AcquireOptions): Running {
  return {
    async loop(n) {
      let lease: Lease | undefined;
      for (let i = 0; i < n; i++) {
        lease = await limiter.acquire(options);
        lease.release();
      }
      return lease;
    },
    close: () => limiter.close(),
  };
}

const SUBJECTS: readonly Subject[] = [
  {
    name: 'forestall',
    api: `\`await acquire()\` + \`release()\`; \`SlidingWindowLimiter.perSecond(1e9)\``,
    role: 'forestall-acquire',
    start() {
      return acquireLoop(SlidingWindowLimiter.perSecond(HIGH));
    },
  },
  {
    name: 'forestall',
    api: '`tryAcquire()` + `release()` (synchronous, nothing awaited)',
    role: 'forestall-try',
    start() {
      const limiter = SlidingWindowLimiter.perSecond(HIGH);
      return {
        async loop(n) {
          let lease: Lease | undefined;
          for (let i = 0; i < n; i++) {
            lease = limiter.tryAcquire();
            if (lease === undefined) throw new Error('tryAcquire refused under a limit that should never bind');
            lease.release();
          }
          return lease;
        },
        close: () => limiter.close(),
      };
    },
  },
  {
    name: 'forestall (info)',
    api: '`await acquire({ tokens: 100 })` + `release()`; 2 request windows, a token budget, concurrency 1,000',
    start() {
      const limiter = new Limiter({
        requests: [
          { limit: HIGH, windowMs: 1_000 },
          { limit: HIGH, windowMs: 60_000 },
        ],
        tokens: { limit: HIGH * 1_000, windowMs: 60_000 },
        concurrency: 1_000,
      });
      return acquireLoop(limiter, { tokens: 100 });
    },
  },
  {
    name: 'p-throttle',
    api: '`await throttled()`; `pThrottle({ limit: 1e9, interval: 1000, strict: true })(noop)`',
    role: 'baseline',
    start() {
      const throttled = pThrottle({ limit: HIGH, interval: 1_000, strict: true })(noop);
      return {
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) {
            last = await throttled();
          }
          return last;
        },
        close: async () => {},
      };
    },
  },
  {
    name: 'p-queue',
    api: '`await queue.add(noop)`; `new PQueue({ intervalCap: 1e9, interval: 1000 })`',
    start() {
      const queue = new PQueue({ intervalCap: HIGH, interval: 1_000 });
      return {
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) {
            last = await queue.add(noop);
          }
          return last;
        },
        close: async () => queue.clear(),
      };
    },
  },
  {
    name: 'bottleneck',
    api: '`await schedule(noop)`; reservoir 1e9 refreshed every 1000 ms',
    start() {
      const bottleneck = new Bottleneck({
        reservoir: HIGH,
        reservoirRefreshAmount: HIGH,
        reservoirRefreshInterval: 1_000,
      });
      return {
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) {
            last = await bottleneck.schedule(asyncNoop);
          }
          return last;
        },
        close: async () => {
          await bottleneck.stop({ dropWaitingJobs: true }).catch(noop);
          await bottleneck.disconnect();
        },
      };
    },
  },
  {
    name: 'limiter',
    api: '`await removeTokens(1)`; `new RateLimiter({ tokensPerInterval: 1e9, interval: 1000 })`',
    start() {
      const limiter = new RateLimiter({ tokensPerInterval: HIGH, interval: 1_000 });
      return {
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) {
            last = await limiter.removeTokens(1);
          }
          return last;
        },
        close: async () => {},
      };
    },
  },
  {
    name: 'rate-limiter-flexible',
    api: '`await queue.removeTokens(1)`; `RateLimiterQueue` over `RateLimiterMemory({ points: 1e9, duration: 1 })`',
    start() {
      const queue = new RateLimiterQueue(new RateLimiterMemory({ points: HIGH, duration: 1 }));
      return {
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) {
            last = await queue.removeTokens(1);
          }
          return last;
        },
        close: async () => {},
      };
    },
  },
];

/**
 * The last result of each subject's previous batch, alive across the forced GC. A full GC at a
 * moment when no instance of a class exists lets V8 drop that class's hidden-class transitions
 * and deoptimize every function compiled against them (seen with `--trace-deopt`: "weak
 * objects"), so each batch would start in unoptimized code. A running application always has
 * some lease alive when a GC happens; holding one result per subject (the same for every
 * library) measures that steady state rather than an artifact of calling `gc()`.
 */
const held = new Map<Running, unknown>();

async function timeBatch(running: Running, n: number): Promise<number> {
  collect();
  const t0 = performance.now();
  const last = await running.loop(n);
  const elapsed = performance.now() - t0;
  held.set(running, last);
  return (elapsed * 1e6) / n;
}

interface Measured {
  readonly subject: Subject;
  readonly batch: number;
  readonly samples: number[];
}

export async function runUncontended(): Promise<SectionResult> {
  const measured: { subject: Subject; running: Running; batch: number; samples: number[] }[] = [];
  for (const subject of SUBJECTS) {
    const running = subject.start();
    // A probe only tells the fast from the slow: every subject that can do 10k calls in about a
    // second gets exactly 10k (so a noisy probe cannot shrink its batch); a subject that takes
    // milliseconds a call (bottleneck) gets a batch of about TARGET_BATCH_MS.
    await timeBatch(running, 20);
    const probe = await timeBatch(running, 50);
    const batch =
      probe * MAX_BATCH <= SLOW_BATCH_NS ? MAX_BATCH : Math.max(20, Math.floor((TARGET_BATCH_MS * 1e6) / probe));
    measured.push({ subject, running, batch, samples: [] });
  }
  for (let w = 0; w < WARMUP_BATCHES; w++) {
    for (const m of measured) await timeBatch(m.running, m.batch);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < measured.length; k++) {
      const m = measured[(round + k) % measured.length];
      if (m === undefined) continue;
      m.samples.push(await timeBatch(m.running, m.batch));
    }
  }
  for (const m of measured) await m.running.close();
  held.clear();
  return report(measured);
}

function report(measured: readonly Measured[]): SectionResult {
  const baseline = measured.find((m) => m.subject.role === 'baseline');
  const baseNs = baseline === undefined ? Number.NaN : median(baseline.samples);
  const rows = measured.map((m) => {
    const med = median(m.samples);
    return [
      m.subject.name,
      m.subject.api,
      fixed(m.batch, 0),
      ns(med),
      `${fixed(Math.min(...m.samples), 0)} – ${fixed(Math.max(...m.samples), 0)}`,
      fixed(med / baseNs, 2),
    ];
  });
  const goals: GoalResult[] = [];
  const acquire = measured.find((m) => m.subject.role === 'forestall-acquire');
  if (acquire !== undefined) {
    const med = median(acquire.samples);
    goals.push({
      goal: 'uncontended `acquire()` + `release()` ≤ 1,000 ns',
      measured: ns(med),
      verdict: verdict(med <= 1_000),
    });
    goals.push({
      goal: 'uncontended `acquire()` no slower than p-throttle (ratio ≤ 1.00)',
      measured: fixed(med / baseNs, 2),
      verdict: verdict(med / baseNs <= 1),
    });
  }
  const tryAcquire = measured.find((m) => m.subject.role === 'forestall-try');
  const tryNote =
    tryAcquire === undefined
      ? ''
      : ` forestall's \`tryAcquire()\` (no promise at all) takes ${ns(median(tryAcquire.samples))}: the rest of \`acquire()\`'s cost is the promise and the \`await\`.`;
  const markdown =
    [
      `Sequential awaited calls that never wait (limits of 1e9 per window), ns per call: median of ${ROUNDS} interleaved rounds after ${WARMUP_BATCHES} warm-up batches, full GC before each batch with each subject's last result held across it (a GC with no live lease makes V8 deoptimize forestall's hot path; see the comment in \`bench/core-uncontended.ts\`). Ratio is against p-throttle (strict), the fastest peer that keeps a sliding log.${tryNote}`,
      '',
      table(
        [
          'library',
          'call and configuration',
          'calls per batch',
          'median per call',
          'range of rounds (ns)',
          'ratio vs p-throttle',
        ],
        rows,
      ),
      '',
      goalsTable(goals),
    ].join('\n') + gcNote();
  return { markdown, goals };
}
