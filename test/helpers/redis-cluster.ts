import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { type RedisServer, startRedisServer } from './redis-server.js';

/** A real Redis Cluster of masters without replicas, each its own redis-server. */
export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  readonly ports: readonly number[];
  /** The index in `nodes` of the master that serves `key`'s slot. */
  ownerOf(key: string): Promise<number>;
  /** Resolves once every live node reports `cluster_state:ok`. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const CLI = process.env.REDIS_CLI ?? 'redis-cli';

async function ask(port: number, args: string[]): Promise<string> {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    return String(await client.sendCommand(args));
  } finally {
    client.destroy();
  }
}

/**
 * Starts `masters` redis-servers in cluster mode (a node timeout of 1 s, so a dead master is
 * noticed quickly) and joins them with `redis-cli --cluster create`, the slots split evenly. A
 * node restarted with `restart()` keeps its nodes.conf, so it comes back as the same master of
 * the same slots, empty.
 */
export async function startRedisCluster3(masters = 3): Promise<RedisCluster> {
  const dirs: string[] = [];
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'forestall-cluster3-'));
    dirs.push(dir);
    nodes.push(
      await startRedisServer([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--cluster-node-timeout',
        '1000',
        '--dir',
        dir,
      ]),
    );
  }
  const ports = nodes.map((n) => n.port);
  const created = spawnSync(
    CLI,
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) {
    throw new Error(`redis-cli --cluster create failed: ${created.error?.message ?? created.stdout + created.stderr}`);
  }
  const cluster: RedisCluster = {
    nodes,
    ports,
    async ownerOf(key) {
      const slot = Number(await ask(ports[0] as number, ['CLUSTER', 'KEYSLOT', key]));
      const lines = (await ask(ports[0] as number, ['CLUSTER', 'NODES'])).split('\n');
      for (const line of lines) {
        const fields = line.split(' ');
        if (!fields[2]?.includes('master')) continue;
        const port = Number(fields[1]?.split('@')[0]?.split(':')[1]);
        for (const range of fields.slice(8)) {
          const [from, to = from] = range.split('-').map(Number);
          if (from !== undefined && slot >= from && slot <= (to as number)) return ports.indexOf(port);
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    async ready(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          ports.map((p) => ask(p, ['CLUSTER', 'INFO']).then((info) => info.includes('cluster_state:ok'))),
        );
        if (states.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error('the cluster did not become ready');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.ready();
  return cluster;
}
