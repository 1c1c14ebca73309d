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

/** What the store knows about one waiting caller across `admit` calls. */
export interface Booking {
  readonly id: string;
  /** A future slot is booked in Redis. */
  booked: boolean;
  /** When the booked slot starts, on the limiter's clock. */
  at: number;
  /** The booking holds its concurrency lease. */
  leased: boolean;
  /** An admit call for it is on the wire. */
  inflight: boolean;
  /** The caller left while the call was on the wire: whatever it booked must be given back. */
  withdrawn: boolean;
}
