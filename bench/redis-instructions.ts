/**
 * Instructions per script call, counted by valgrind's callgrind in a redis-server of its own: the
 * admit script in the steady state, back to back, beside rate-limiter-flexible's script and the
 * minimal one, each exactly as bench/redis-server-time.ts runs them for their server time. A count
 * of instructions is the same on a slow machine and a fast one, and from run to run, where server
 * microseconds move with the machine (this workplace's machines have differed twofold from one day
 * to the next): it tells what a change to a script saved, and how the scripts compare, when the
 * time alone cannot. Only EVALSHA is counted (`--toggle-collect=evalShaCommand`), from the command
 * read to its reply written, Lua and the commands it calls included.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from '../test/helpers/redis-server.js';
import { sleep } from './core-util.js';
import { admitServerTime, evalshaTime, type Meter, type PeerTime, peerServerTimes } from './redis-server-time.js';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

/** Why instructions cannot be counted here, or undefined when they can. */
export function callgrindMissing(): string | undefined {
  for (const tool of ['valgrind', 'callgrind_control']) {
    const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (probe.error !== undefined || probe.status !== 0) return `${tool} not found (Debian's package valgrind)`;
  }
  return undefined;
}

/** The instructions per call of each script, named as in the server time table. */
export interface Instructions {
  readonly name: string;
  readonly perCall: number;
  readonly calls: number;
  readonly note: string;
}

/** The admit script's and the peers' instructions per call, `calls` calls each, back to back. */
export async function scriptInstructions(calls: number): Promise<Instructions[]> {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-callgrind-'));
  const port = await freePort();
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--toggle-collect=evalShaCommand',
      `--callgrind-out-file=${join(dir, 'out')}`,
      BINARY,
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ],
    { stdio: 'ignore' },
  );
  // A run cut short by its caller's deadline leaves this function waiting: the bench's exit takes
  // the server with it.
  const leftBehind = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', leftBehind);
  let dumps = 0;
  // Zeroes the counts, runs the phase, dumps them (file out.<n>) and reads the dump's total.
  const meter: Meter = async (cmd, phase) => {
    control(child, '-z');
    const { calls } = await evalshaTime(cmd, phase);
    control(child, '-d');
    dumps += 1;
    const total = await dumpTotal(join(dir, `out.${dumps}`));
    return { calls, total };
  };
  try {
    await accepting(child, port);
    const server = { port };
    const ours = await admitServerTime(server, calls, 'back to back', meter);
    const theirs: PeerTime[] = await peerServerTimes(server, calls, 'back to back', meter);
    return [
      {
        name: 'forestall admit (2 request windows + 1 token budget)',
        perCall: ours.perCall,
        calls: ours.admitCalls,
        note: ours.note.replace(/INFO commandstats[^;]*/, 'callgrind'),
      },
      ...theirs.map((p) => ({ name: p.name, perCall: p.perCall, calls: p.calls, note: '' })),
    ];
  } finally {
    process.off('exit', leftBehind);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function control(child: ChildProcess, flag: string): void {
  const done = spawnSync('callgrind_control', [flag, String(child.pid)], { stdio: 'ignore', timeout: 30_000 });
  if (done.status !== 0) throw new Error(`callgrind_control ${flag} failed (status ${done.status})`);
}

/** The `summary:` line of a callgrind dump, once the file is written whole (its last line, `totals:`). */
async function dumpTotal(file: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const text = readFileSync(file, 'utf8');
      const line = /^summary: (\d+)$/m.exec(text);
      if (line !== null && /^totals: \d+$/m.test(text)) return Number(line[1]);
    } catch {
      // Not written yet.
    }
    await sleep(100);
  }
  throw new Error(`no callgrind dump in ${file} within 30 s`);
}

/** Waits for the server under valgrind (slow to start) to accept connections. */
async function accepting(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('redis-server under valgrind exited');
    if (await accepts(port)) return;
    await sleep(200);
  }
  throw new Error(`redis-server under valgrind did not accept connections on port ${port} within 60 s`);
}
