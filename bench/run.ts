/**
 * The one benchmark entry: `npm run bench [-- name ...]`.
 *
 * Finds every `bench/*.bench.ts` (each default-exports `async () => ({ title, markdown })`), runs
 * them one at a time (they measure time and memory, so they must not share the process with each
 * other), `core` first and then alphabetically, and writes `bench/RESULTS.md`. Naming modules runs
 * only those; the sections of the others already in RESULTS.md are kept, so results measured
 * separately add up to one file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchResult {
  readonly title: string;
  readonly markdown: string;
}

interface BenchModule {
  readonly default: () => Promise<BenchResult>;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const RESULTS_FILE = path.join(BENCH_DIR, 'RESULTS.md');
const SUFFIX = '.bench.ts';
const FIRST = 'core';
/** Peers the core benchmark compares against; listed even if no bench file names them yet. */
const PEERS = ['bottleneck', 'p-queue', 'p-throttle', 'limiter', 'rate-limiter-flexible'];
const MARKER = /^<!-- bench:([\w.-]+) -->$/;

/** Module names (file name without `.bench.ts`): core first, then alphabetical, so files read the same every run. */
async function discover(): Promise<string[]> {
  const names = (await readdir(BENCH_DIR)).filter((f) => f.endsWith(SUFFIX)).map((f) => f.slice(0, -SUFFIX.length));
  return names.sort((a, b) => (a === FIRST ? -1 : b === FIRST ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** Accepts `core`, `core.bench` or `bench/core.bench.ts` for the same module. */
function normalize(arg: string): string {
  const base = path.basename(arg);
  return base.endsWith(SUFFIX)
    ? base.slice(0, -SUFFIX.length)
    : base.endsWith('.bench')
      ? base.slice(0, -'.bench'.length)
      : base;
}

async function packageVersion(dir: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/** The bare package names bench files import, so a new module's peers show up without editing this file. */
async function importedPackages(): Promise<string[]> {
  const found = new Set<string>();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;
  for (const file of await readdir(BENCH_DIR)) {
    if (!file.endsWith('.ts')) continue;
    const source = await readFile(path.join(BENCH_DIR, file), 'utf8');
    for (const match of source.matchAll(pattern)) {
      const spec = match[1];
      if (spec === undefined || spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
      if (!builtinModules.includes(name)) found.add(name);
    }
  }
  return [...found];
}

async function versionsTable(): Promise<string> {
  const rows: string[] = [`| forestall (this repo) | ${(await packageVersion(ROOT)) ?? 'unknown'} |`];
  const names = [...new Set([...PEERS, ...(await importedPackages())])].sort();
  for (const name of names) {
    rows.push(`| ${name} | ${(await packageVersion(path.join(ROOT, 'node_modules', name))) ?? 'not installed'} |`);
  }
  return ['| package | version |', '| --- | --- |', ...rows].join('\n');
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} logical cores`;
}

function machineLine(): string {
  return `${cpuModel()} · Node ${process.version} · ${os.type()} ${os.release()} ${os.arch()}`;
}

function machineTable(): string {
  const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  const load = os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');
  return [
    '| | |',
    '| --- | --- |',
    `| CPU | ${cpuModel()} |`,
    `| Memory | ${gib(os.totalmem())} total, ${gib(os.freemem())} free at start |`,
    `| Load average at start (1, 5, 15 min) | ${load} |`,
    `| Node | ${process.version} (V8 ${process.versions.v8}) |`,
    `| OS | ${os.type()} ${os.release()} (${os.platform()} ${os.arch()}) |`,
  ].join('\n');
}

interface Section {
  readonly name: string;
  readonly text: string;
}

/**
 * Splits RESULTS.md at its `## ` headings (outside code fences) into the sections of each module,
 * recognised by the marker line written under every heading. A `## ` heading without a marker
 * belongs to the module section above it (a module may use `##` in its own markdown); the header
 * before the first section is regenerated, so it is dropped.
 */
function parseSections(text: string): Section[] {
  const sections: { name: string; lines: string[] }[] = [];
  let current: { name: string; lines: string[] } | undefined;
  let fenced = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (!fenced && line.startsWith('## ')) {
      const marker = MARKER.exec((lines[i + 1] ?? '').trim());
      if (marker?.[1] !== undefined) {
        current = { name: marker[1], lines: [] };
        sections.push(current);
      } else if (current === undefined) {
        // A section someone wrote by hand: kept under its heading text.
        current = { name: `heading:${line.slice(3).trim()}`, lines: [] };
        sections.push(current);
      }
    }
    current?.lines.push(line);
  }
  return sections.map((s) => ({ name: s.name, text: s.lines.join('\n').trimEnd() }));
}

function renderSection(name: string, result: BenchResult, seconds: number, when: string): string {
  return [
    `## ${result.title}`,
    `<!-- bench:${name} -->`,
    '',
    `_Measured ${when} by \`npm run bench -- ${name}\` in ${seconds.toFixed(1)} s on ${machineLine()}._`,
    '',
    result.markdown.trim(),
  ].join('\n');
}

function renderFailure(name: string, error: unknown, when: string): string {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return [
    `## ${name}: failed`,
    `<!-- bench:${name} -->`,
    '',
    `_Run ${when} on ${machineLine()}._ The module threw; no figures were recorded:`,
    '',
    '```',
    detail,
    '```',
  ].join('\n');
}

async function main(): Promise<number> {
  const available = await discover();
  const requested = process.argv
    .slice(2)
    .filter((arg) => arg !== '--')
    .map(normalize);
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown benchmark(s): ${unknown.join(', ')}. Available: ${available.join(', ')}\n`);
    return 2;
  }
  const selected = requested.length === 0 ? available : available.filter((name) => requested.includes(name));

  // The modules import the built package, as users get it.
  if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    process.stderr.write('dist/index.js is missing: running npm run build\n');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    process.stderr.write(
      'warning: global.gc is not exposed (run with node --expose-gc); heap figures will be unreliable\n',
    );
  }

  const started = new Date().toISOString();
  const fresh = new Map<string, string>();
  let failed = 0;
  for (const name of selected) {
    process.stderr.write(`bench ${name}\n`);
    const when = new Date().toISOString();
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(path.join(BENCH_DIR, name + SUFFIX)).href)) as BenchModule;
      if (typeof mod.default !== 'function') throw new TypeError(`${name}${SUFFIX} has no default export function`);
      const result = await mod.default();
      const seconds = (performance.now() - t0) / 1_000;
      fresh.set(name, renderSection(name, result, seconds, when));
      process.stderr.write(`bench ${name}: done in ${seconds.toFixed(1)} s\n`);
    } catch (error) {
      failed++;
      fresh.set(name, renderFailure(name, error, when));
      process.stderr.write(
        `bench ${name}: FAILED\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    // The next module starts from a clean heap, not this one's garbage.
    (globalThis as { gc?: () => void }).gc?.();
  }

  const previous = existsSync(RESULTS_FILE) ? parseSections(await readFile(RESULTS_FILE, 'utf8')) : [];
  const kept = new Map(previous.map((s) => [s.name, s.text]));
  const body: string[] = [];
  for (const name of available) {
    const text = fresh.get(name) ?? kept.get(name);
    if (text !== undefined) body.push(text);
    kept.delete(name);
  }
  // Sections of modules that no longer exist are kept rather than silently lost; delete them by hand.
  for (const [name, text] of kept) {
    process.stderr.write(`note: RESULTS.md keeps a section with no bench module (${name})\n`);
    body.push(text);
  }

  const header = [
    '# forestall benchmarks',
    '',
    'Written by `npm run bench` (`bench/run.ts`); do not edit by hand. Each section says when and on',
    'which machine it was measured: `npm run bench -- NAME` re-runs one module and keeps the others.',
    '',
    `Last run: ${started}, modules: ${selected.join(', ')}.`,
    '',
    machineTable(),
    '',
    await versionsTable(),
  ].join('\n');
  await writeFile(RESULTS_FILE, `${header}\n\n${body.join('\n\n')}\n`);
  process.stderr.write(`wrote ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}\n`);
  return failed > 0 ? 1 : 0;
}

// Libraries under test may leave timers or intervals behind; the run is over once the file is written.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
