import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MockServerOptions, MockStats } from '../../src/testing/index.js';

/** A mock provider server running in a child process. */
export interface MockProcess {
  readonly url: string;
  readonly origin: string;
  stats(): Promise<MockStats>;
  close(): Promise<void>;
}

const script = fileURLToPath(new URL('../fixtures/mock-server-child.ts', import.meta.url));

/** Starts the mock server in its own process (its own event loop, like a real provider). */
export async function startMockProcess(options: MockServerOptions): Promise<MockProcess> {
  const child: ChildProcess = fork(script, [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string; origin: string }>((resolve, reject) => {
    child.once('message', (m: { type: string; url: string; origin: string }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`mock server process exited with ${code}`)));
  });
  let next = 0;
  return {
    url: ready.url,
    origin: ready.origin,
    stats: () =>
      new Promise<MockStats>((resolve) => {
        const id = next++;
        const onMessage = (m: { type: string; id: number; stats: MockStats }): void => {
          if (m.type !== 'stats' || m.id !== id) return;
          child.off('message', onMessage);
          resolve(m.stats);
        };
        child.on('message', onMessage);
        child.send({ type: 'stats', id });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'close', id: -1 });
      }),
  };
}
