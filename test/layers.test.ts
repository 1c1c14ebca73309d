import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));

/**
 * The layers of src/, lowest first: a module may import its own folder and any lower layer, never
 * a higher one. `index.ts` (the package root) sits above them all.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['internal'],
  ['core'],
  ['windows'],
  ['stores'],
  ['providers', 'tokens'],
  ['feedback'],
  ['retry'],
  ['limiter'],
  ['registry'],
  ['fetch', 'batch'],
  ['testing', 'redis', 'otel'],
  ['cli'],
];

function rank(folder: string): number {
  const i = LAYERS.findIndex((layer) => layer.includes(folder));
  if (i < 0) throw new Error(`src/${folder}/ is in no layer: add it to LAYERS`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(src).map((path) => relative(src, path));

describe('the layout of src/', () => {
  it('holds only index.ts at its top; everything else sits in the folder of its family', () => {
    expect(files.filter((file) => !file.includes('/'))).toEqual(['index.ts']);
  });

  it('has no import that runs from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      const folder = file.split('/')[0]!;
      if (folder === 'index.ts') continue;
      const text = readFileSync(join(src, file), 'utf8');
      for (const match of text.matchAll(/from '\.\.\/([a-z-]+)\//g)) {
        const target = match[1]!;
        if (rank(target) > rank(folder)) upward.push(`${file} imports ${target}/`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps every source file at or under about 400 lines', () => {
    const long = files
      .map((file) => ({ file, lines: readFileSync(join(src, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 420)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });
});
