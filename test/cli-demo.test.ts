import { describe, expect, it } from 'vitest';
import { runCli } from './fixtures/cli-process.js';

/** The two columns of a row of the demo's table: naive, then forestall. */
function row(stdout: string, name: string): [string, string] {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(name));
  if (line === undefined) throw new Error(`no "${name}" row in:\n${stdout}`);
  const cells = line
    .trim()
    .slice(name.length)
    .trim()
    .split(/\s{3,}/);
  return [cells[0] ?? '', cells[1] ?? ''];
}

describe('forestall demo', () => {
  it('runs in under 30 s with no key or network; forestall gets no 429s where the naive burst gets many', async () => {
    const started = performance.now();
    const { code, stdout, stderr } = await runCli(['demo']);
    const elapsed = performance.now() - started;
    expect(code, stderr).toBe(0);
    expect(elapsed).toBeLessThan(30_000);
    const [naive429, ours429] = row(stdout, '429 responses');
    expect(Number(ours429)).toBe(0);
    expect(Number(naive429.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(row(stdout, 'succeeded')[1]).toBe('120 / 120');
    expect(row(stdout, 'retries')[1]).toBe('0');
    // Live progress went to stderr.
    expect(stderr).toMatch(/forestall: 120\/120/);
  }, 40_000);
});
