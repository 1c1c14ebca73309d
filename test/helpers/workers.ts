import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** Starts `test/fixtures/<name>.ts` in its own process with `config` as JSON, with an IPC channel. */
export function startFixture(name: string, config: unknown): ChildProcess {
  const script = fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url));
  return fork(script, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The child's next message of `type`; rejects on an `error` message or an exit before it. */
export function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`worker exited (${code}) before sending ${type}`));
    const onMessage = (message: { type: string; message?: string }): void => {
      if (message.type === 'error') reject(new Error(`worker failed: ${message.message}`));
      else if (message.type === type) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Resolves once the child has exited. */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}
