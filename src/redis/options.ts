import { describeValue } from '../internal/describe.js';
import { knownKeys, plainObject, positiveNumber } from '../internal/validate.js';
import { toCommandClient, type RedisClientLike, type RedisCommandClient } from './clients.js';

/**
 * What the store does while Redis cannot be reached:
 * - `'local'`: admit from this process's memory with a share of the limits (`localShare`);
 * - `'open'`: admit everything (no limit at all until Redis is back);
 * - `'closed'`: reject every acquire with `RedisUnavailableError`.
 */
export type OutagePolicy = 'local' | 'open' | 'closed';

/** Options of `new RedisStore(options)`. */
export interface RedisStoreOptions {
  /**
   * A connected node-redis client (`createClient()` from `redis`), an ioredis client
   * (`new Redis()` from `ioredis`), or any `{ send(args) }` adapter. The store never connects,
   * quits or reconfigures it. For fail-fast behaviour create node-redis clients with
   * `disableOfflineQueue: true` and ioredis clients with `enableOfflineQueue: false`: otherwise
   * commands queue while the connection is down and only `commandTimeoutMs` bounds the wait.
   */
  readonly client: RedisClientLike;
  /**
   * The quota's name: every limiter (in any process, on any machine) that uses the same `key`
   * on the same Redis shares one set of windows. Give them all the same limits. Must not contain
   * `{` or `}` (the key is used as a Redis Cluster hash tag).
   */
  readonly key: string;
  /** Prefix of every Redis key; the keys are `<prefix>:{<key>}:log` and so on. @default 'forestall:v2' */
  readonly prefix?: string | undefined;
  /**
   * How long a concurrency lease lives without renewal. Held leases are renewed every third of it,
   * so a crashed process frees its slots after at most this long. @default 30_000
   */
  readonly leaseTtlMs?: number | undefined;
  /**
   * How long a Redis command may take before the store treats Redis as unavailable and applies
   * `onStoreError`. No caller waits on Redis longer than this. @default 1_000
   */
  readonly commandTimeoutMs?: number | undefined;
  /** What to do while Redis cannot be reached; see `OutagePolicy`. @default 'local' */
  readonly onStoreError?: OutagePolicy | undefined;
  /**
   * Under `onStoreError: 'local'`, the fraction of every limit this process may use on its own
   * (request limits and concurrency are rounded down, to at least 1). `'auto'` divides the limits
   * evenly among the stores that used this key recently (Redis reports how many; 1 if it never
   * answered). Set a number when you know how many processes share the quota, e.g. `1 / 8`.
   * @default 'auto'
   */
  readonly localShare?: number | 'auto' | undefined;
  /**
   * When every concurrency slot is held by other processes (who do not notify us when one frees),
   * ask Redis again after this long. @default 50
   */
  readonly pollMs?: number | undefined;
  /**
   * While Redis is unavailable, probe it after 100 ms, then at doubling intervals up to this long,
   * and go back to it as soon as it answers. The probe is a script on the quota's own key, so in a
   * cluster only the node that serves the quota can answer it (a `PING` any live node answers
   * would end the outage while the quota's master is still down). @default 2_000
   */
  readonly probeIntervalMs?: number | undefined;
  /**
   * `false`: a caller that must wait gets a booked slot (with its concurrency lease) in the same
   * Redis call and starts at the booked time without asking again: one Redis call per admission.
   * A pause that another process writes after the booking does not recall it.
   * `true`: at the booked time the store confirms the booking with a second call, which fails
   * (and books again) if a pause intervened or concurrency is full by then; two calls for every
   * admission that waited.
   * @default false
   */
  readonly confirmBookings?: boolean | undefined;
}

/** Options after validation. */
export interface ResolvedRedisOptions {
  readonly client: RedisCommandClient;
  readonly key: string;
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly commandTimeoutMs: number;
  readonly onStoreError: OutagePolicy;
  readonly localShare: number | 'auto';
  readonly pollMs: number;
  readonly probeIntervalMs: number;
  readonly confirmBookings: boolean;
}

const KEYS = [
  'client',
  'key',
  'prefix',
  'leaseTtlMs',
  'commandTimeoutMs',
  'onStoreError',
  'localShare',
  'pollMs',
  'probeIntervalMs',
  'confirmBookings',
] as const;

function keyPart(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${describeValue(value)}`);
  }
  if (value.length === 0 || /[{}]/.test(value)) {
    throw new RangeError(
      `Expected \`${name}\` to be a non-empty string without \`{\` or \`}\`, got ${describeValue(value)}`,
    );
  }
  return value;
}

function optional<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

/** Validates `new RedisStore(options)`; unknown keys are rejected, so a misspelt option is not ignored. */
export function resolveRedisOptions(options: unknown): ResolvedRedisOptions {
  const o = plainObject('options', options) as Partial<Record<(typeof KEYS)[number], unknown>>;
  knownKeys('RedisStore options', o, KEYS);
  const policy = optional(o.onStoreError, 'local');
  if (policy !== 'local' && policy !== 'open' && policy !== 'closed') {
    throw new TypeError(`Expected \`onStoreError\` to be 'local', 'open' or 'closed', got ${describeValue(policy)}`);
  }
  const share = optional(o.localShare, 'auto');
  if (share !== 'auto') {
    positiveNumber('localShare', share);
    if ((share as number) > 1) {
      throw new RangeError(`Expected \`localShare\` to be 'auto' or a number in (0, 1], got ${describeValue(share)}`);
    }
  }
  const confirm = optional(o.confirmBookings, false);
  if (typeof confirm !== 'boolean') {
    throw new TypeError(`Expected \`confirmBookings\` to be a boolean, got ${describeValue(confirm)}`);
  }
  return {
    client: toCommandClient(o.client),
    key: keyPart('key', o.key),
    prefix: keyPart('prefix', optional(o.prefix, 'forestall:v2')),
    leaseTtlMs: positiveNumber('leaseTtlMs', optional(o.leaseTtlMs, 30_000)),
    commandTimeoutMs: positiveNumber('commandTimeoutMs', optional(o.commandTimeoutMs, 1_000)),
    onStoreError: policy,
    localShare: share as number | 'auto',
    pollMs: positiveNumber('pollMs', optional(o.pollMs, 50)),
    probeIntervalMs: positiveNumber('probeIntervalMs', optional(o.probeIntervalMs, 2_000)),
    confirmBookings: confirm,
  };
}

/** The Redis keys of one quota. They share the hash tag `{key}`, so one cluster slot holds them all. */
export interface QuotaKeys {
  /** Sorted set: entry id -> start (microseconds), for the windows under an hour (see lua/prelude.ts). */
  readonly log: string;
  /** Sorted set: lease id -> expiry (microseconds). */
  readonly conc: string;
  /**
   * Hash: the clock, the pause, running totals, each recent entry's charge, and the buckets of the
   * windows of an hour or more (see lua/prelude.ts).
   */
  readonly state: string;
  /** Hash: window -> others' share learned from the provider's headers (see lua/others.ts). */
  readonly others: string;
  /** Sorted set: store id -> last admission (microseconds), to size the local share. */
  readonly peers: string;
}

/** The keys of quota `key` under `prefix`. */
export function quotaKeys(prefix: string, key: string): QuotaKeys {
  const base = `${prefix}:{${key}}`;
  return {
    log: `${base}:log`,
    conc: `${base}:conc`,
    state: `${base}:state`,
    peers: `${base}:peers`,
    others: `${base}:others`,
  };
}
