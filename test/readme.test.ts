import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first ```ts block under a `## heading`. */
function codeUnder(heading: string): string {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading));
  const match = section?.match(/```ts\n([\s\S]*?)```/);
  if (!match?.[1]) throw new Error(`README has no ts block under "## ${heading}"`);
  return match[1];
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs a README snippet as a user would: `import ... from 'forestall'` resolving to the built package. */
function runSnippet(code: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-readme-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'forestall'), 'dir');
  writeFileSync(join(dir, 'snippet.mts'), code);
  const result = spawnSync(process.execPath, ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), 'snippet.mts'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

describe('README', () => {
  it.skipIf(!existsSync(join(root, 'dist/index.js')))('the quick start works as pasted', () => {
    const { status, out } = runSnippet(codeUnder('Quick start'));
    expect(out).toMatch(/45 answers in \d+ ms/);
    expect(out).toContain('used: 31500');
    expect(status).toBe(0);
  });
});
