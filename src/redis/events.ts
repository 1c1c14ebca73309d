import type { OutagePolicy } from './options.js';

/** Payload of the store's `outage` event: Redis could not be used, and `policy` now applies. */
export interface RedisOutageEvent {
  /** The failure that started the outage (a connection error, a `RedisTimeoutError`, ...). */
  readonly error: unknown;
  readonly policy: OutagePolicy;
}

/** Payload of the store's `recovered` event: Redis answered again and admissions go back to it. */
export interface RedisRecoveredEvent {
  /** How long the outage lasted, in milliseconds. */
  readonly outageMs: number;
}

/** Every event a `RedisStore` emits, for `store.on(name, listener)`. */
export interface RedisStoreEvents {
  /** Redis became unavailable; emitted once per outage. */
  outage: (event: RedisOutageEvent) => void;
  /** A probe reached Redis again after an outage. */
  recovered: (event: RedisRecoveredEvent) => void;
}
