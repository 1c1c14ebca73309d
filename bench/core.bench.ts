/**
 * The core limiter against its peers (bottleneck, p-queue, p-throttle, limiter,
 * rate-limiter-flexible): cost of an acquire that need not wait, the window-boundary burst,
 * throughput at the limit, long queues, and timer lateness. Every figure is measured in the run.
 */
import { runAtLimit } from './core-at-limit.js';
import { runBoundary } from './core-boundary.js';
import { runTimers } from './core-timers.js';
import { runUncontended } from './core-uncontended.js';
import { QUICK, collect, fixed, sleep, table, type SectionResult } from './core-util.js';
import { runWaiters } from './core-waiters.js';

interface Section {
  readonly heading: string;
  readonly run: () => Promise<SectionResult>;
}

const SECTIONS: readonly Section[] = [
  { heading: '1. Acquire that never waits', run: runUncontended },
  { heading: '2. Window-boundary burst', run: runBoundary },
  { heading: '3. At the limit', run: runAtLimit },
  { heading: '4. 100,000 waiters', run: runWaiters },
  { heading: '5. Timer lateness', run: runTimers },
];

export default async function core(): Promise<{ title: string; markdown: string }> {
  const parts: string[] = [];
  const summary: string[][] = [];
  for (const section of SECTIONS) {
    process.stderr.write(`  core: ${section.heading} ... `);
    const t0 = performance.now();
    const result = await section.run();
    const seconds = (performance.now() - t0) / 1_000;
    process.stderr.write(`${fixed(seconds, 1)} s\n`);
    parts.push(`### ${section.heading}\n\n${result.markdown}\n\n_Section time: ${fixed(seconds, 1)} s._`);
    for (const goal of result.goals) summary.push([section.heading, goal.goal, goal.measured, goal.verdict]);
    // Sections must not measure each other's garbage or leftover timers.
    collect();
    await sleep(100);
  }
  const misses = summary.filter((row) => row[3] === 'MISS').length;
  const markdown = [
    `forestall (built \`dist/index.js\`) against bottleneck, p-queue, p-throttle, limiter and rate-limiter-flexible.${QUICK ? ' **BENCH_QUICK=1: a shortened dry run; figures are indicative only.**' : ''}`,
    '',
    `Goals: ${summary.length - misses} of ${summary.length} met.`,
    '',
    table(['section', 'goal', 'measured', 'result'], summary),
    '',
    parts.join('\n\n'),
  ].join('\n');
  return { title: 'Core limiter against peers', markdown };
}
