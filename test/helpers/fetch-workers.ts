import type { ChildProcess } from 'node:child_process';
import type { FetchWorkerConfig, FetchWorkerReport } from '../fixtures/fetch-worker.js';
import { type MockProcess, startMockProcess } from './mock-process.js';
import { exited, nextMessage, startFixture } from './workers.js';

/** What a run of fetch workers (test/fixtures/fetch-worker.ts) against one mock gave. */
export interface RunResult {
  readonly wallMs: number;
  readonly rejected429: number;
  readonly maxArrivalsInWindow: number;
  readonly ok: number;
  readonly reports: readonly FetchWorkerReport[];
}

/** Starts `configs.length` workers, lets them all begin at the same moment, and collects. */
export async function runWorkers(
  configs: readonly Omit<FetchWorkerConfig, 'url'>[],
  server: MockProcess,
  children: Set<ChildProcess>,
  during?: (startAt: number) => Promise<void>,
): Promise<RunResult> {
  const workers = configs.map((config) => {
    const child = startFixture('fetch-worker', { ...config, url: server.url });
    children.add(child);
    return child;
  });
  await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
  const reports = Promise.all(workers.map((w) => nextMessage<FetchWorkerReport>(w, 'report')));
  const startAt = Date.now() + 200;
  for (const w of workers) w.send({ startAt });
  await during?.(startAt);
  const all = await reports;
  await Promise.all(workers.map((w) => exited(w)));
  for (const w of workers) children.delete(w);
  const stats = await server.stats();
  return {
    wallMs: Math.max(...all.map((r) => r.lastEnd)) - startAt,
    rejected429: stats.rejected429,
    maxArrivalsInWindow: stats.maxArrivalsInWindow,
    ok: all.reduce((n, r) => n + (r.statuses['200'] ?? 0), 0),
    reports: all,
  };
}

/** A strict sliding-window OpenAI mock in its own process. */
export function strictServer(requests: { limit: number; windowMs: number }): Promise<MockProcess> {
  return startMockProcess({ provider: 'openai', algorithm: 'sliding-window', requests, latencyMs: 20 });
}
