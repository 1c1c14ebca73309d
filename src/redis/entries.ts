import type { Cost } from '../core/vocabulary.js';
import type { MemoryStore } from '../stores/memory-store.js';
import type { StoreEntry } from '../stores/store.js';
import type { RecentAdmission } from './recent-admissions.js';
import type { Dropped } from './writes.js';

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
  /** Where it counts from, on the limiter's clock (moved by a restamp). */
  countsFrom: number;

  constructor(
    readonly start: number,
    readonly id: string,
    readonly leased: boolean,
    /** How this store remembers it, to write it back after an outage; kept up to date. */
    readonly recent: RecentAdmission | undefined,
    /** Its start on the server's clock (microseconds), kept up to date, for its bucket. */
    public serverAt: number,
    /** Its charge as last sent to Redis. */
    public charged: Cost,
  ) {
    this.countsFrom = start;
  }

  /** What the scripts are to believe of it when the log no longer holds it. */
  get dropped(): Dropped {
    const { input, output, spend = 0 } = this.charged;
    return { id: this.id, at: this.serverAt, input, output, spend };
  }
}

/**
 * An admission made from the local share during an outage; its books stay local, and it is
 * written back to Redis (start, charge, lease) once Redis answers again.
 */
export class LocalEntry implements StoreEntry {
  released = false;
  cancelled = false;
  /** Its id in Redis once written back; its lease is then released there too. */
  restoredId: string | undefined = undefined;

  constructor(
    public start: number,
    readonly inner: StoreEntry,
    /** The charge as it stands (reconciled), in full: the local books may hold it scaled. */
    public cost: Cost,
    /** The local books it was admitted from (each outage has its own). */
    readonly books: MemoryStore,
  ) {}
}

/** An admission let through unrecorded during an outage under `onStoreError: 'open'`. */
export class OpenEntry implements StoreEntry {
  constructor(readonly start: number) {}
}
