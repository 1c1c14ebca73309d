import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, it } from 'vitest';
import { ADMIT, ADMIT_STATUS, FORGET, RECONCILE, SCRIPTS } from '../../src/redis/scripts.js';
import { asksOf, forgottenOf, parseAdmitReply, reconcileOf } from '../../src/redis/admit-protocol.js';

/*
 * Throwaway redis-server processes for the Redis store's tests: each on a free loopback port,
 * without persistence, stopped by its own PID. Nothing here touches a Redis the machine runs.
 */

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

/** True when `redis-server` can be started here. */
export const redisServerAvailable: boolean = (() => {
  const probe = spawnSync(BINARY, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
})();

let warned = false;

/**
 * `describe` for tests that need a real redis-server. Without one they are skipped with a plain
 * message, except under `CI=true`, where a missing server fails the run: CI must not pass by
 * silently testing nothing.
 */
export function describeWithRedis(title: string, body: () => void): void {
  if (redisServerAvailable) {
    describe(title, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs redis-server', () => {
        throw new Error(
          'redis-server was not found but CI=true: the Redis store tests must run in CI. ' +
            'Install it with `apt-get install -y --no-install-recommends redis-server`.',
        );
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(
      'The Redis store tests were skipped: redis-server is not installed. ' +
        'To run them: `apt-get install -y --no-install-recommends redis-server` (or set REDIS_SERVER to its path).',
    );
  }
  describe.skip(title, body);
}

/** A running throwaway server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), then waits for the process to exit. */
  kill(): Promise<void>;
  /** Starts a fresh server on the same port (after `stop` or `kill`): empty data, empty script cache. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung server). */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  // A test run that dies must not leave servers behind.
  for (const child of running) child.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function launch(port: number, extra: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    BINARY,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server exited at start on port ${port}`);
    if (await accepts(port)) return child;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not accept connections on port ${port} within 5 s`);
}

async function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/**
 * Starts a server on a free loopback port (retrying on another port if that one was taken).
 * `extra` arguments go to redis-server as they are.
 */
export async function startRedisServer(extra: readonly string[] = []): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child = await launch(port, extra);
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        get pid() {
          return child.pid as number;
        },
        stop: () => end(child, 'SIGTERM'),
        kill: () => end(child, 'SIGKILL'),
        async restart() {
          await end(child, 'SIGKILL');
          child = await launch(port, extra);
        },
        freeze: () => void child.kill('SIGSTOP'),
        thaw: () => void child.kill('SIGCONT'),
      };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * A one-node Redis Cluster: cluster mode on, every slot assigned to the node. Cluster mode is what
 * rejects a script whose keys hash to different slots, so one node is enough to check the keys.
 */
export async function startRedisCluster(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-cluster-'));
  const server = await startRedisServer([
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--dir',
    dir,
    // A lone node does not know its own address until it meets another; clients need it.
    '--cluster-announce-ip',
    '127.0.0.1',
  ]);
  const client = createClient({ socket: { host: '127.0.0.1', port: server.port } });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.sendCommand(['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
    const deadline = Date.now() + 5_000;
    while (!String(await client.sendCommand(['CLUSTER', 'INFO'])).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('the one-node cluster did not become ready');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    client.destroy();
  }
  return {
    ...server,
    get pid() {
      return server.pid;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A node-redis client set up to fail fast, as the store's documentation recommends. */
// The return type is inferred: node-redis spells it with five type parameters.
export async function nodeRedisClient(port: number) {
  const client = createClient({
    socket: { host: '127.0.0.1', port, connectTimeout: 500, reconnectStrategy: () => 50 },
    disableOfflineQueue: true,
  });
  // node-redis emits connection errors; unheard, an 'error' event would crash the test run.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** An ioredis client set up to fail fast. */
export async function ioredisClient(port: number): Promise<Redis> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: () => 50,
    lazyConnect: true,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A unique quota key per test, so tests sharing a server never see each other's entries. */
export function uniqueKey(label: string): string {
  return `${label}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** What a recorder saw of the store's commands. */
export interface CommandRecord {
  /**
   * Commands sent, by script name (`admit`, `reconcile`, ...) or command name (`PING`); `rebook`
   * counts the admit calls that replaced a booking which came due too late (a stalled event loop).
   */
  readonly commands: Record<string, number>;
  /** Admit answers by outcome: `admitted` at once, `booked` a future slot, `wait`, `other`. */
  readonly statuses: Record<string, number>;
  /** Entries Redis recorded (admitted or booked, and not given back), start in server microseconds. */
  readonly entries: Map<string, { at: number; tokens: number }>;
  /** Reconciled charges by entry id. */
  readonly reconciled: Map<string, number>;
  /** EVAL commands (script-cache misses). */
  evals: number;
}

/**
 * Wraps a node-redis client's `sendCommand` or an ioredis client's `call` in place, counting
 * every command and reading what the store's scripts did from their arguments and replies, so a
 * test sees each admission's start on the server's clock, the one clock all processes share.
 */
export function recordCommands(client: object): CommandRecord {
  const record: CommandRecord = { commands: {}, statuses: {}, entries: new Map(), reconciled: new Map(), evals: 0 };
  const names = new Map(
    SCRIPTS.flatMap(
      (s) =>
        [
          [s.sha, s.name],
          [s.source, s.name],
        ] as const,
    ),
  );
  const observe = (args: readonly string[], reply: Promise<unknown>): void => {
    const [command, script] = args;
    const isScript = command === 'EVALSHA' || command === 'EVAL';
    if (command === 'EVAL') record.evals++;
    const name = isScript ? (names.get(script as string) ?? 'other-script') : (command ?? '?');
    record.commands[name] = (record.commands[name] ?? 0) + 1;
    const argv = args.slice(3 + Number(args[2]));
    if (name === ADMIT.name) {
      const asks = asksOf(argv);
      // Flag 4: a booking that came due too late to stand for the request's start, booked again.
      for (const ask of asks) if ((ask.flags & 4) !== 0) record.commands.rebook = (record.commands.rebook ?? 0) + 1;
      reply.then(
        (r) => {
          for (const [k, { status, at }] of parseAdmitReply(r, asks.length).answers.entries()) {
            const { id, input, output } = asks[k] as (typeof asks)[number];
            const label =
              status === ADMIT_STATUS.admitted
                ? 'admitted'
                : status === ADMIT_STATUS.booked
                  ? 'booked'
                  : status === ADMIT_STATUS.wait
                    ? 'wait'
                    : 'other';
            record.statuses[label] = (record.statuses[label] ?? 0) + 1;
            if (label === 'admitted' || label === 'booked') record.entries.set(id, { at, tokens: input + output });
          }
        },
        () => {},
      );
    } else if (name === RECONCILE.name) {
      const { id, tokens } = reconcileOf(argv);
      record.reconciled.set(id, tokens);
    } else if (name === FORGET.name) {
      for (const id of forgottenOf(argv)) record.entries.delete(id);
    }
  };
  const c = client as Record<string, unknown>;
  if (typeof c.call === 'function' && typeof c.status === 'string') {
    const call = (c.call as (...args: string[]) => Promise<unknown>).bind(client);
    c.call = (...args: string[]) => {
      const reply = call(...args);
      observe(args, reply);
      return reply;
    };
  } else {
    const sendCommand = (c.sendCommand as (args: string[]) => Promise<unknown>).bind(client);
    c.sendCommand = (args: string[]) => {
      const reply = sendCommand(args);
      observe(args, reply);
      return reply;
    };
  }
  return record;
}

/** Admission starts (server microseconds) and final charges, as Redis recorded them. */
export function recordedEntries(record: CommandRecord): { id: string; at: number; tokens: number }[] {
  return [...record.entries].map(([id, e]) => ({ id, at: e.at, tokens: record.reconciled.get(id) ?? e.tokens }));
}
