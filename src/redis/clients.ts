import { describeValue } from '../internal/describe.js';

/**
 * The one thing the store needs from a Redis client: send a command, get its reply. Replies are
 * what RESP2 clients give by default: integers as numbers, bulk strings as strings, arrays as
 * arrays; a Redis error reply rejects.
 *
 * `new RedisStore({ client })` accepts a node-redis or ioredis client as is; implement this
 * interface to use any other client (or to count, log or trace commands).
 */
export interface RedisCommandClient {
  /** Sends one command, e.g. `['EVALSHA', sha, '2', key1, key2, arg]`, and resolves to its reply. */
  send(args: readonly string[]): Promise<unknown>;
}

/** What node-redis (`redis` 4 to 6) clients look like to the store: only `sendCommand` is used. */
export interface NodeRedisClientLike {
  sendCommand(args: string[]): Promise<unknown>;
}

/** What node-redis cluster clients (`createCluster()`) look like: `sendCommand` takes the first key. */
export interface NodeRedisClusterLike {
  readonly masters: readonly unknown[];
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
}

/** What ioredis clients look like to the store: only `call` (and `status`, to recognize one) is used. */
export interface IoRedisClientLike {
  readonly status: string;
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** A client `RedisStore` accepts: node-redis (client or cluster), ioredis (client or cluster), or an adapter of your own. */
export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | IoRedisClientLike | RedisCommandClient;

/** Adapts a node-redis client (`createClient()` from `redis`). */
export function nodeRedisAdapter(client: NodeRedisClientLike): RedisCommandClient {
  return { send: (args) => client.sendCommand([...args]) };
}

/** The key that routes a command in a cluster: the first of a script's KEYS (all share one hash tag). */
function firstKey(args: readonly string[]): string | undefined {
  const [command, , count, key] = args;
  return (command === 'EVALSHA' || command === 'EVAL') && Number(count) > 0 ? key : undefined;
}

/** Adapts a node-redis cluster client (`createCluster()` from `redis`). */
export function nodeRedisClusterAdapter(cluster: NodeRedisClusterLike): RedisCommandClient {
  return { send: (args) => cluster.sendCommand(firstKey(args), false, [...args]) };
}

/**
 * Adapts an ioredis client (`new Redis()` from `ioredis`); an ioredis `Cluster` too, as it routes
 * scripts by their keys.
 */
export function ioredisAdapter(client: IoRedisClientLike): RedisCommandClient {
  return {
    send: (args) => {
      const [command, ...rest] = args;
      return client.call(command as string, ...rest);
    },
  };
}

function isFunction(value: unknown): value is (...args: never[]) => unknown {
  return typeof value === 'function';
}

/**
 * Recognizes the client by shape, so neither `redis` nor `ioredis` is ever imported: both are
 * optional peers. ioredis is checked first because it also has a `sendCommand`, with another
 * signature (it takes a `Command` object).
 */
export function toCommandClient(client: unknown): RedisCommandClient {
  if (typeof client === 'object' && client !== null) {
    const c = client as Record<string, unknown>;
    if (isFunction(c.send) && !isFunction(c.sendCommand) && !isFunction(c.call)) return client as RedisCommandClient;
    if (isFunction(c.call) && typeof c.status === 'string') return ioredisAdapter(client as IoRedisClientLike);
    if (isFunction(c.sendCommand) && 'masters' in c) return nodeRedisClusterAdapter(client as NodeRedisClusterLike);
    if (isFunction(c.sendCommand)) return nodeRedisAdapter(client as NodeRedisClientLike);
  }
  throw new TypeError(
    `Expected \`client\` to be a node-redis client or cluster, an ioredis client or a RedisCommandClient ({ send(args) }), got ${describeValue(client)}`,
  );
}
