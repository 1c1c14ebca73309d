import type { StoreEntry } from '../stores/store.js';

/*
 * What the Redis store hands the limiter for an admission, one class per place the admission is
 * kept, so a release or cancel goes where the admission was made, even after Redis came back.
 */

/** An admission recorded in Redis. */
export class RedisEntry implements StoreEntry {
  released = false;
  cancelled = false;
  /** The lease went with a cancel: the release that follows has nothing left to send. */
  leaseFreed = false;

  constructor(
    readonly start: number,
    readonly id: string,
    readonly leased: boolean,
  ) {}
}

/** An admission made from the local share during an outage; its books stay local. */
export class LocalEntry implements StoreEntry {
  constructor(
    readonly start: number,
    readonly inner: StoreEntry,
  ) {}
}

/** An admission let through unrecorded during an outage under `onStoreError: 'open'`. */
export class OpenEntry implements StoreEntry {
  constructor(readonly start: number) {}
}
