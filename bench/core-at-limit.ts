/**
 * Section 3: running at the limit. 50 per second with a backlog that never runs dry, for 10 s of
 * real time per library (3 s with BENCH_QUICK=1). A good limiter admits close to the full limit
 * (throughput is what users pay for) while a strict sliding-window checker finds no second with
 * more than 50 starts. Libraries run one after another so each has the event loop to itself.
 */
import { PEERS, type Peer } from './core-peers.js';
import {
  QUICK,
  checkWindows,
  fixed,
  percent,
  sleep,
  submitEach,
  table,
  verdict,
  type SectionResult,
  goalsTable,
} from './core-util.js';

const LIMIT = 50;
const WINDOW_MS = 1_000;
const SECONDS = QUICK ? 3 : 10;
/** More than the run can admit, so the queue is never empty: the limiter alone sets the pace. */
const BACKLOG = LIMIT * SECONDS + 100;

interface Outcome {
  readonly admitted: number;
  readonly max: number;
  readonly violations: number;
  /** The same checks on when the jobs ran, when that differs from the admission (forestall). */
  readonly jobs: { readonly max: number; readonly violations: number } | undefined;
}

async function runPeer(peer: Peer): Promise<Outcome> {
  const limiter = peer.create(LIMIT, WINDOW_MS);
  const starts: number[] = [];
  const admissions: number[] = [];
  let reportsAdmission = false;
  const job = (admittedAt?: number): void => {
    const now = performance.now();
    starts.push(now);
    if (admittedAt !== undefined) reportsAdmission = true;
    admissions.push(admittedAt ?? now);
  };
  const t0 = performance.now();
  // Jobs dropped at close reject (or, for p-queue, never settle); neither is an error here.
  await submitEach(BACKLOG, () => void limiter.submit(job).catch(() => {}));
  const end = t0 + SECONDS * 1_000;
  await sleep(end - performance.now());
  await limiter.close();
  const within = admissions.filter((t) => t < end);
  const check = checkWindows(within, WINDOW_MS, LIMIT);
  const jobs = reportsAdmission
    ? checkWindows(
        starts.filter((t) => t < end),
        WINDOW_MS,
        LIMIT,
      )
    : undefined;
  return { admitted: within.length, max: check.max, violations: check.violations, jobs };
}

export async function runAtLimit(): Promise<SectionResult> {
  const rows: string[][] = [];
  const goals = [];
  for (const peer of PEERS) {
    const outcome = await runPeer(peer);
    const fraction = outcome.admitted / (LIMIT * SECONDS);
    rows.push([
      peer.name,
      fixed(outcome.admitted, 0),
      percent(fraction),
      fixed(outcome.max, 0),
      fixed(outcome.violations, 0),
      outcome.jobs === undefined ? 'same' : `${fixed(outcome.jobs.max, 0)} / ${fixed(outcome.jobs.violations, 0)}`,
    ]);
    if (peer.name === 'forestall') {
      goals.push({
        goal: `at the limit: admitted ≥ 98 % of ${LIMIT}/s`,
        measured: percent(fraction),
        verdict: verdict(fraction >= 0.98),
      });
      goals.push({
        goal: 'at the limit: zero windows over the limit',
        measured: fixed(outcome.violations, 0),
        verdict: verdict(outcome.violations === 0),
      });
    }
  }
  const markdown = [
    `Limit ${LIMIT} per ${WINDOW_MS} ms, ${BACKLOG} jobs submitted from t = 0 (one per event-loop turn, so a job admitted at once starts before the next is submitted), run for ${SECONDS} s of real time per library${QUICK ? ' (BENCH_QUICK: shortened from 10 s)' : ''}, one library at a time; same configurations as the boundary test. Admitted = admissions within the run / (${LIMIT} × ${SECONDS}). Violations = windows [s, s + ${WINDOW_MS}) anchored at each start s that hold more than ${LIMIT} starts.`,
    '',
    table(
      [
        'library',
        'admissions',
        'admitted',
        'most admissions in any window',
        'violations',
        'jobs run: most in a window / violations',
      ],
      rows,
    ),
    '',
    "For the peers the library calls the job, so the job runs at the admission. forestall admits by resolving `acquire()`; its admission is `lease.acquiredAt`, and the job runs in the caller's continuation, which the event loop may run a millisecond or more later. At exact window boundaries that caller-side lag can put more than 50 job starts in a window measured from the jobs; `marginMs` is the setting that absorbs it (the fetch wrapper counts requests from when they left, plus `sentMarginMs`, for the same reason).",
    '',
    goalsTable(goals),
  ].join('\n');
  return { markdown, goals };
}
