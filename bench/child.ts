import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository's root, where the benchmarks run their child processes. */
export const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs a fresh Node process (with tsx and --expose-gc) and parses the last line it prints as JSON. */
export function childJson<T>(args: readonly string[], env: Record<string, string> = {}): T {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}
