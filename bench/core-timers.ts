/**
 * Section 5: timer lateness. A caller waits on a 1-per-5-ms limiter over and over; each wait
 * should end when the window allows the next start (the previous start + 5 ms). Lateness = the
 * moment the caller resumes minus that moment.
 *
 * Alongside every wait, a bare `setTimeout` is set for the same moment (rounded up to whole
 * milliseconds, as any timer that must not fire early has to be). Both run under the same load,
 * so the baseline separates what the limiter adds from what Node's timers and the machine cost
 * anyway: on a shared machine a descheduled process makes both late together.
 */
import { SlidingWindowLimiter } from 'forestall';
import { QUICK, collect, ms, percentile, table, verdict, type SectionResult, goalsTable } from './core-util.js';

const WINDOW_MS = 5;
const WAITS = QUICK ? 300 : 1_000;
/** The first waits compile the waiting path; they are run but not counted. */
const WARMUP = 20;

interface Lateness {
  readonly limiter: number[];
  readonly timeout: number[];
}

async function measure(): Promise<Lateness> {
  const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: WINDOW_MS });
  let previous = await limiter.acquire();
  previous.release();
  const result: Lateness = { limiter: [], timeout: [] };
  for (let i = 0; i < WARMUP + WAITS; i++) {
    const counted = i >= WARMUP;
    // `acquiredAt` is on the limiter's clock, which is performance.now(): the same scale.
    const due = previous.acquiredAt + WINDOW_MS;
    const baseline = new Promise<void>((resolve) => {
      setTimeout(
        () => {
          if (counted) result.timeout.push(performance.now() - due);
          resolve();
        },
        Math.max(0, Math.ceil(due - performance.now())),
      );
    });
    const lease = await limiter.acquire();
    const resumed = performance.now();
    if (counted) result.limiter.push(resumed - due);
    lease.release();
    previous = lease;
    await baseline;
  }
  await limiter.close();
  return result;
}

export async function runTimers(): Promise<SectionResult> {
  collect();
  const { limiter, timeout } = await measure();
  const row = (name: string, values: readonly number[]): string[] => [
    name,
    String(values.length),
    ms(percentile(values, 50), 3),
    ms(percentile(values, 90), 3),
    ms(percentile(values, 99), 3),
    ms(Math.max(...values), 3),
    ms(Math.min(...values), 3),
  ];
  const p99 = percentile(limiter, 99);
  const goals = [{ goal: 'timer lateness p99 ≤ 2 ms', measured: ms(p99, 3), verdict: verdict(p99 <= 2) }];
  const early =
    Math.min(...timeout) < 0
      ? ` The bare timer fired up to ${ms(-Math.min(...timeout), 3)} before its moment (libuv counts whole milliseconds); the limiter checks the clock when its timer fires and waits again rather than start early.`
      : '';
  const markdown = [
    `\`new SlidingWindowLimiter({ limit: 1, windowMs: ${WINDOW_MS} })\`, ${WAITS} sequential waits after ${WARMUP} uncounted ones: lateness = when the caller resumes after \`await acquire()\` minus (previous lease's \`acquiredAt\` + ${WINDOW_MS} ms). Negative would mean a start before the window allows it. The baseline is a bare \`setTimeout\` set alongside each wait for the same moment (delay rounded up to whole ms), so both saw the same machine load.${early}`,
    '',
    table(
      ['waits', 'count', 'p50', 'p90', 'p99', 'max', 'min'],
      [row('forestall', limiter), row('setTimeout, same moments', timeout)],
    ),
    '',
    goalsTable(goals),
  ].join('\n');
  return { markdown, goals };
}
