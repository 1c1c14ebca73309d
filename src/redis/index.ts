export { RedisStore } from './redis-store.js';
export type { OutagePolicy, QuotaKeys, RedisStoreOptions } from './options.js';
export { quotaKeys } from './options.js';
export { ioredisAdapter, nodeRedisAdapter, nodeRedisClusterAdapter } from './clients.js';
export type {
  IoRedisClientLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
  RedisCommandClient,
} from './clients.js';
export { RedisStoreError, RedisTimeoutError, RedisUnavailableError } from './errors.js';
export type { RedisOutageEvent, RedisRecoveredEvent, RedisStoreEvents } from './events.js';
