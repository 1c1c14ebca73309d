/**
 * Section 4: long queues. 100,000 callers wait on a forestall limiter that admits nothing (a
 * concurrency of 1, held). Measured: heap per waiter, the time to abort half of them one by one,
 * and what admitting them all costs per waiter once the limit is lifted, against a queue of 100.
 *
 * Heap figures count what the library keeps per waiter, including the promise it returns. The
 * caller's side is set up before the baseline and left out: the array that holds the promises is
 * allocated at full size beforehand, AbortControllers are created beforehand, and rejection
 * handlers are attached only after the second reading.
 */
import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import pThrottle from 'p-throttle';
import { Limiter, type Lease } from 'forestall';
import {
  QUICK,
  bytes,
  canCollect,
  collect,
  fixed,
  gcNote,
  heapUsed,
  median,
  ms,
  ns,
  settle,
  table,
  verdict,
  type GoalResult,
  type SectionResult,
  goalsTable,
  noop,
  asyncNoop,
} from './core-util.js';

const WAITERS = 100_000;
const SMALL = 100;
/** bottleneck takes about 2 ms to queue each job (it serialises submissions), so it gets fewer. */
const BOTTLENECK_WAITERS = 1_000;

interface HeapReading {
  readonly perWaiter: number;
  readonly waiters: number;
}

/** Heap growth per element while `fill` puts `n` waiters in place; `fill` may await its library. */
async function measureHeap<T>(
  n: number,
  fill: (slots: (T | undefined)[]) => Promise<void> | void,
): Promise<HeapReading> {
  const slots = new Array<T | undefined>(n).fill(undefined);
  await settle();
  collect();
  const before = heapUsed();
  await fill(slots);
  await settle();
  collect();
  const after = heapUsed();
  // Keeps `slots` (and so every waiter) reachable until after the second reading.
  if (slots.length !== n) throw new Error('unreachable');
  return { perWaiter: (after - before) / n, waiters: n };
}

async function blockedForestall(): Promise<{ limiter: Limiter; held: Lease }> {
  const limiter = new Limiter({ concurrency: 1 });
  const held = await limiter.acquire();
  return { limiter, held };
}

async function forestallHeap(): Promise<HeapReading> {
  const { limiter, held } = await blockedForestall();
  let waiting: (Promise<Lease> | undefined)[] = [];
  const reading = await measureHeap<Promise<Lease>>(WAITERS, (slots) => {
    waiting = slots;
    for (let i = 0; i < slots.length; i++) slots[i] = limiter.acquire();
  });
  for (const promise of waiting) promise?.catch(noop);
  await limiter.close();
  held.release();
  return reading;
}

interface AbortReading {
  readonly heap: HeapReading;
  readonly aborted: number;
  readonly loopMs: number;
  readonly totalMs: number;
  readonly stillQueued: number;
}

async function forestallAbort(): Promise<AbortReading> {
  const { limiter, held } = await blockedForestall();
  const controllers = Array.from({ length: WAITERS }, () => new AbortController());
  let waiting: (Promise<Lease> | undefined)[] = [];
  const heap = await measureHeap<Promise<Lease>>(WAITERS, (slots) => {
    waiting = slots;
    for (let i = 0; i < slots.length; i++)
      slots[i] = limiter.acquire({ signal: (controllers[i] as AbortController).signal });
  });
  // Every other waiter: removals from the middle of the queue, the case an array-backed queue pays for.
  const aborted = Math.ceil(WAITERS / 2);
  let rejected = 0;
  let allRejected!: () => void;
  const done = new Promise<void>((resolve) => (allRejected = resolve));
  waiting.forEach((promise, i) => {
    if (i % 2 === 0) {
      promise?.catch(() => {
        if (++rejected === aborted) allRejected();
      });
    } else promise?.catch(noop);
  });
  collect();
  const t0 = performance.now();
  for (let i = 0; i < WAITERS; i += 2) (controllers[i] as AbortController).abort();
  const t1 = performance.now();
  await done;
  const t2 = performance.now();
  const stillQueued = limiter.stats().queued;
  await limiter.close();
  held.release();
  return { heap, aborted, loopMs: t1 - t0, totalMs: t2 - t0, stillQueued };
}

/**
 * What Node itself charges for the same abort loop: controllers whose signal has one listener
 * object that does nothing. The difference to forestall's figure is forestall's own work.
 */
function nodeAbortBaseline(): number {
  const controllers = Array.from({ length: WAITERS }, () => new AbortController());
  const listener = { handleEvent: noop };
  for (const controller of controllers) controller.signal.addEventListener('abort', listener, { once: true });
  collect();
  const t0 = performance.now();
  for (let i = 0; i < WAITERS; i += 2) (controllers[i] as AbortController).abort();
  return ((performance.now() - t0) * 1e6) / Math.ceil(WAITERS / 2);
}

/** The floor for any promise-returning queue: a pending promise plus its kept resolve and reject functions. */
async function promiseFloor(): Promise<HeapReading> {
  class Deferred {
    resolve: ((value: undefined) => void) | undefined = undefined;
    reject: ((reason: unknown) => void) | undefined = undefined;
  }
  const holders = new Array<Deferred | undefined>(WAITERS).fill(undefined);
  return measureHeap<Promise<undefined>>(WAITERS, (slots) => {
    for (let i = 0; i < slots.length; i++) {
      const deferred = new Deferred();
      slots[i] = new Promise<undefined>((resolve, reject) => {
        deferred.resolve = resolve;
        deferred.reject = reject;
      });
      holders[i] = deferred;
    }
  });
}

/** Per-waiter time from lifting the limit until every waiter holds its lease. */
async function drainOnce(n: number): Promise<number> {
  const { limiter, held } = await blockedForestall();
  let admitted = 0;
  let allAdmitted!: () => void;
  const done = new Promise<void>((resolve) => (allAdmitted = resolve));
  const onLease = (): void => {
    if (++admitted === n) allAdmitted();
  };
  for (let i = 0; i < n; i++) limiter.acquire().then(onLease, noop);
  await settle();
  collect();
  const t0 = performance.now();
  limiter.updateLimits({ concurrency: undefined });
  await done;
  const elapsed = performance.now() - t0;
  held.release();
  await limiter.close();
  return (elapsed * 1e6) / n;
}

async function pQueueHeap(): Promise<HeapReading> {
  const queue = new PQueue({ concurrency: 1 });
  let release = noop;
  void queue.add(() => new Promise<void>((resolve) => (release = resolve)));
  const reading = await measureHeap<Promise<void>>(WAITERS, (slots) => {
    for (let i = 0; i < slots.length; i++) slots[i] = queue.add(noop);
  });
  // clear() drops the waiting jobs; their promises stay pending and are collected.
  queue.clear();
  release();
  return reading;
}

async function bottleneckHeap(): Promise<HeapReading> {
  const bottleneck = new Bottleneck({ maxConcurrent: 1 });
  let release = noop;
  void bottleneck.schedule(() => new Promise<void>((resolve) => (release = resolve)));
  let waiting: (Promise<void> | undefined)[] = [];
  const reading = await measureHeap<Promise<void>>(BOTTLENECK_WAITERS, async (slots) => {
    waiting = slots;
    for (let i = 0; i < slots.length; i++) slots[i] = bottleneck.schedule(asyncNoop);
    // Submissions are processed asynchronously; measure once all of them sit in the queue.
    while (bottleneck.counts().QUEUED < slots.length) await settle();
  });
  for (const promise of waiting) promise?.catch(noop);
  release();
  await bottleneck.stop({ dropWaitingJobs: true }).catch(noop);
  await bottleneck.disconnect();
  return reading;
}

async function pThrottleHeap(): Promise<HeapReading> {
  const controller = new AbortController();
  // One call per 10 s: every later call sits on its own timer, the longest about 11.6 days away.
  const throttled = pThrottle({ limit: 1, interval: 10_000, strict: true, signal: controller.signal })(noop);
  await throttled();
  let waiting: (Promise<void> | undefined)[] = [];
  const reading = await measureHeap<Promise<void>>(WAITERS, (slots) => {
    waiting = slots;
    for (let i = 0; i < slots.length; i++) slots[i] = throttled() as unknown as Promise<void>;
  });
  for (const promise of waiting) promise?.catch(noop);
  controller.abort();
  return reading;
}

export async function runWaiters(): Promise<SectionResult> {
  const heap = await forestallHeap();
  const abort = await forestallAbort();
  const nodeAbortNs = nodeAbortBaseline();
  const floor = await promiseFloor();
  const peers: [string, string, HeapReading][] = [
    ['p-queue', '`queue.add(noop)` behind a held job, concurrency 1', await pQueueHeap()],
    ['p-throttle', '`throttled()`, strict, 1 per 10 s (one timer per waiter)', await pThrottleHeap()],
    ['bottleneck', '`schedule(noop)` behind a held job, maxConcurrent 1', await bottleneckHeap()],
  ];

  // Warm the drain path so the first measured rounds do not pay for compilation.
  for (let i = 0; i < 20; i++) await drainOnce(SMALL);
  await drainOnce(10_000);
  const smallRounds: number[] = [];
  for (let i = 0; i < (QUICK ? 15 : 41); i++) smallRounds.push(await drainOnce(SMALL));
  const largeRounds: number[] = [];
  for (let i = 0; i < (QUICK ? 1 : 3); i++) largeRounds.push(await drainOnce(WAITERS));
  const small = median(smallRounds);
  const large = median(largeRounds);
  const drainRatio = large / small;

  const goals: GoalResult[] = [
    {
      goal: `heap per waiter with ${fixed(WAITERS, 0)} queued ≤ 300 B`,
      measured: bytes(heap.perWaiter),
      verdict: verdict(canCollect && heap.perWaiter <= 300),
    },
    {
      goal: `drain cost per waiter: ${fixed(WAITERS, 0)} queued within 1.5× of ${SMALL}`,
      measured: `${fixed(drainRatio, 2)}×`,
      verdict: verdict(drainRatio <= 1.5),
    },
  ];

  const heapRows = [
    ['forestall', '`acquire()` behind a held lease, concurrency 1', fixed(heap.waiters, 0), bytes(heap.perWaiter)],
    [
      'forestall',
      "`acquire({ signal })`, each with its own AbortController (controllers not counted; includes Node's abort-listener record)",
      fixed(abort.heap.waiters, 0),
      bytes(abort.heap.perWaiter),
    ],
    ...peers.map(([name, how, reading]) => [name, how, fixed(reading.waiters, 0), bytes(reading.perWaiter)]),
    [
      '(floor)',
      'a bare pending `new Promise` with its `resolve` and `reject` kept on a two-field holder',
      fixed(floor.waiters, 0),
      bytes(floor.perWaiter),
    ],
  ];
  const markdown =
    [
      `${fixed(WAITERS, 0)} callers queued at once on a limiter that admits nothing. Heap per waiter = growth of \`heapUsed\` (after full GCs) / waiters; it counts the promise each call returns and whatever the library keeps, not the caller's array or handlers.`,
      '',
      table(['library', 'waiters', 'count', 'heap per waiter'], heapRows),
      '',
      `Aborting every other waiter (${fixed(abort.aborted, 0)} \`controller.abort()\` calls, removals from the middle of the queue), then waiting until every aborted promise has rejected:`,
      '',
      table(
        [
          'aborted',
          'abort loop',
          'loop + rejections settled',
          'per abort',
          'Node alone, per abort',
          'still queued after',
        ],
        [
          [
            fixed(abort.aborted, 0),
            ms(abort.loopMs),
            ms(abort.totalMs),
            ns((abort.totalMs * 1e6) / abort.aborted),
            ns(nodeAbortNs),
            fixed(abort.stillQueued, 0),
          ],
        ],
      ),
      '',
      '"Node alone" is the same loop over controllers whose signal has one no-op listener: `abort()` itself (which builds a `DOMException` reason with a stack trace) and Node\'s event dispatch.',
      '',
      `Drain: \`updateLimits({ concurrency: undefined })\` lifts the limit; time until every waiter's promise has resolved, per waiter (median of ${smallRounds.length} rounds for ${SMALL}, ${largeRounds.length} for ${fixed(WAITERS, 0)}):`,
      '',
      table(
        ['waiters', 'per waiter', 'rounds (ns per waiter)'],
        [
          [fixed(SMALL, 0), ns(small), `${fixed(Math.min(...smallRounds), 0)} – ${fixed(Math.max(...smallRounds), 0)}`],
          [fixed(WAITERS, 0), ns(large), largeRounds.map((v) => fixed(v, 0)).join(', ')],
        ],
      ),
      '',
      goalsTable(goals),
    ].join('\n') + gcNote();
  return { markdown, goals };
}
