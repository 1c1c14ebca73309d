import { Limiter } from 'forestall';
import { FakeClock } from 'forestall/testing';
import { bytes, canCollect, collect, fixed, gcNote, heapUsed, ns, table, verdict } from './core-util.js';

/*
 * Long token windows in memory: a daily budget is kept in buckets (an hour or more), a window
 * under an hour as an exact log. Measured in the same run on both: the heap each admission leaves
 * behind, and the cost of an admission that must wait while the window holds N entries. The
 * 59-minute window is the exact log's figure, the cost a daily window had before buckets.
 */

const DAY = 86_400_000;
const EXACT_MS = 3_599_000;

interface Shape {
  readonly name: string;
  readonly windowMs: number;
}

const SHAPES: readonly Shape[] = [
  { name: 'daily budget (buckets)', windowMs: DAY },
  { name: '59-minute budget (exact log)', windowMs: EXACT_MS },
];

/** A limiter on a fake clock whose token window holds `n` admissions of 10 tokens, spread over half of it. */
async function filled(shape: Shape, n: number, limit: number): Promise<{ limiter: Limiter; clock: FakeClock }> {
  const clock = new FakeClock();
  const limiter = new Limiter({ tokens: { limit, windowMs: shape.windowMs }, clock });
  const step = shape.windowMs / 2 / n;
  for (let i = 0; i < n; i++) {
    const lease = limiter.tryAcquire({ tokens: 10 });
    if (lease === undefined) throw new Error('the window filled early');
    lease.release();
    // Moves the fake clock without timers to fire: nothing waits.
    if (i % 64 === 63) await clock.advance(step * 64);
  }
  return { limiter, clock };
}

async function heapPerAdmission(shape: Shape, n: number): Promise<number> {
  collect();
  const before = heapUsed();
  const { limiter } = await filled(shape, n, n * 10 * 2);
  collect();
  const after = heapUsed();
  // Keeps the limiter (and its window) reachable until after the reading.
  if (limiter.stats().tokens[0]?.used !== n * 10) throw new Error('unexpected use');
  await limiter.close();
  return (after - before) / n;
}

/** Time of an admission that cannot start (the window full) and asks when it could: `tryAcquire` of half the limit. */
async function waitCost(shape: Shape, n: number): Promise<number> {
  const { limiter } = await filled(shape, n, n * 10);
  collect();
  const runs = 2_000;
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) {
      if (limiter.tryAcquire({ tokens: (n * 10) / 2 }) !== undefined) throw new Error('admitted');
    }
    batches.push(((performance.now() - t0) * 1e6) / runs);
  }
  await limiter.close();
  // The median batch: a collection or a compilation in one batch does not decide the figure.
  return batches.sort((a, b) => a - b)[3] as number;
}

export default async function windows(): Promise<{ title: string; markdown: string }> {
  const heapN = 200_000;
  const heapRows: string[][] = [];
  const heap: Record<string, number> = {};
  for (const shape of SHAPES) {
    heap[shape.name] = await heapPerAdmission(shape, heapN);
    heapRows.push([shape.name, fixed(heapN, 0), bytes(heap[shape.name] as number)]);
  }
  const sizes = [10_000, 100_000, 300_000];
  // Compiled before anything is timed: the first shape measured must not pay for the JIT.
  for (const shape of SHAPES) await waitCost(shape, 10_000);
  const costRows: string[][] = [];
  const cost: Record<string, number[]> = {};
  for (const shape of SHAPES) {
    cost[shape.name] = [];
    for (const n of sizes) (cost[shape.name] as number[]).push(await waitCost(shape, n));
    costRows.push([shape.name, ...(cost[shape.name] as number[]).map(ns)]);
  }
  const daily = SHAPES[0]?.name as string;
  const dailyCost = cost[daily] as number[];
  const goals = [
    [
      'heap per admission of a daily token window <= 32 bytes',
      bytes(heap[daily] as number),
      verdict((heap[daily] as number) <= 32),
    ],
    [
      'an admission that waits on a daily budget does not grow with entries: 10,000 to 300,000 within 3x either way (the noise of a 200 ns figure on this machine)',
      `${ns(dailyCost[0] as number)} / ${ns(dailyCost[2] as number)}`,
      verdict(Math.max(...dailyCost) <= 3 * Math.min(...dailyCost)),
    ],
  ];
  const markdown = [
    `${canCollect ? '' : `${gcNote()} `}Token windows of an hour or more are kept in buckets of 1/100 of the window (a bucket counts in full until its latest start leaves: never over the limit, at most one bucket held back); shorter ones as an exact log. Both measured in this run, with a fake clock.`,
    '',
    table(['goal', 'measured', 'result'], goals),
    '',
    `Heap left per admission (${fixed(heapN, 0)} admissions of 10 tokens, released, spread over half the window; growth of \`heapUsed\` after full GCs / admissions):`,
    '',
    table(['window', 'admissions', 'heap per admission'], heapRows),
    '',
    'An admission that must wait (`tryAcquire` of half the limit on a full window, which asks when it could start), per call (median of 7 batches of 2,000), by entries in the window:',
    '',
    table(['window', ...sizes.map((n) => `${fixed(n, 0)} entries`)], costRows),
  ].join('\n');
  return { title: 'Long token windows in memory', markdown };
}
