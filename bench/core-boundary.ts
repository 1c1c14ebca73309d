/**
 * Section 2: the window-boundary burst. Limit 10 per 1000 ms; one call at t = 0 and 30 at
 * t = 900 ms. A fixed-window limiter lets 9 more start at 900 ms and 10 again at 1000 ms: 19 or
 * more starts inside one second. A sliding log must never exceed 10 in any [t, t + 1000).
 *
 * Libraries run one at a time: a start is recorded when the job begins, a little after the
 * library decided, and another library's work in the same event loop (bottleneck spends
 * milliseconds per job) would stretch that gap and make a correct limiter look wrong.
 * Each run stops at t = 2,100 ms: that covers the burst at 900 ms, the boundary at 1,000 ms and
 * the next window's slots at 1,900-2,000 ms; later seconds only repeat the pattern.
 */
import { PEERS, type Peer } from './core-peers.js';
import {
  checkWindows,
  fixed,
  ms,
  sleep,
  submitEach,
  table,
  verdict,
  type SectionResult,
  goalsTable,
} from './core-util.js';

const LIMIT = 10;
const WINDOW_MS = 1_000;
const BURST_AT_MS = 900;
const BURST = 30;
const REPEATS = 3;
/** Each run ends here (from t = 0); jobs not started by then are dropped or become no-ops. */
const RUN_MS = 2_100;

interface Run {
  readonly max: number;
  readonly tightestMs: number;
  readonly started: number;
}

async function runOnce(peer: Peer): Promise<Run> {
  const limiter = peer.create(LIMIT, WINDOW_MS);
  const starts: number[] = [];
  const job = (): void => {
    starts.push(performance.now());
  };
  const jobs: Promise<void>[] = [];
  const t0 = performance.now();
  jobs.push(limiter.submit(job));
  await sleep(t0 + BURST_AT_MS - performance.now());
  await submitEach(BURST, () => jobs.push(limiter.submit(job)));
  // Jobs dropped by close() reject (p-queue's never settle); neither matters here.
  for (const submitted of jobs) submitted.catch(() => {});
  const end = t0 + RUN_MS;
  await sleep(end - performance.now());
  await limiter.close();
  const check = checkWindows(
    starts.filter((t) => t < end),
    WINDOW_MS,
    LIMIT,
  );
  return { max: check.max, tightestMs: check.tightestMs, started: starts.filter((t) => t < end).length };
}

export async function runBoundary(): Promise<SectionResult> {
  const runs = new Map<Peer, Run[]>(PEERS.map((peer) => [peer, []]));
  for (const peer of PEERS) {
    for (let r = 0; r < REPEATS; r++) runs.get(peer)?.push(await runOnce(peer));
  }
  const rows: string[][] = [];
  let forestallMax = Number.NaN;
  for (const [peer, list] of runs) {
    const max = Math.max(...list.map((run) => run.max));
    if (peer.name === 'forestall') forestallMax = max;
    rows.push([
      peer.name,
      peer.config(LIMIT, WINDOW_MS),
      list.map((run) => String(run.max)).join(', '),
      String(max),
      ms(Math.min(...list.map((run) => run.tightestMs)), 1),
      list.map((run) => String(run.started)).join(', '),
    ]);
  }
  const goals = [
    {
      goal: 'boundary burst: most starts in any 1000 ms window = 10',
      measured: fixed(forestallMax, 0),
      verdict: verdict(forestallMax === LIMIT),
    },
  ];
  const markdown = [
    `Limit ${LIMIT} per ${WINDOW_MS} ms, 1 call at t = 0 and ${BURST} at t = ${BURST_AT_MS} ms (real time; the 30 are submitted one per event-loop turn, so jobs admitted at once start before the next submission), ${REPEATS} repetitions. Start = \`performance.now()\` when the job begins; counted in half-open windows [t, t + ${WINDOW_MS}) over the starts before t = ${fixed(RUN_MS, 0)} ms, when each run ends. "Tightest 11 starts" is the shortest time from a start to the ${LIMIT}th start after it: below ${WINDOW_MS} ms means ${LIMIT + 1} starts fit in one window. One library at a time.`,
    '',
    table(['library', 'configuration', 'max per run', 'max', 'tightest 11 starts', 'starts per run (of 31)'], rows),
    '',
    goalsTable(goals),
  ].join('\n');
  return { markdown, goals };
}
