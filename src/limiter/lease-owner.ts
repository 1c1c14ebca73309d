import type { Clock } from '../internal/clock.js';
import { finiteNumber } from '../internal/validate.js';
import type { StoreCapability } from '../stores/capabilities.js';
import type { StoreEntry } from '../stores/store.js';
import type { Lease, LeaseOwner } from './lease.js';
import type { Limiter } from './limiter.js';
import type { Scheduler } from './scheduler.js';
import type { StoreDriver } from './store-driver.js';

/** The parts of a limiter its leases report to. */
export interface LeaseOwnerParts {
  readonly limiter: Limiter;
  readonly clock: Clock;
  readonly driver: StoreDriver;
  readonly scheduler: Scheduler;
  /** The lease's concurrency slot is free (the limiter counts it and tells listeners). */
  release(lease: Lease, entry: StoreEntry): void;
  /** The provider answered the lease's request overloaded. */
  overloaded(lease: Lease): void;
  /** An operation needed a capability the store lacks. */
  missing(capability: StoreCapability, operation: string): void;
}

/**
 * What a lease's methods do to the limiter: restamp, reconcile and cancel go to the store, and a
 * change that may make room wakes the queue.
 */
export function leaseOwner(parts: LeaseOwnerParts): LeaseOwner {
  const { clock, driver, scheduler } = parts;
  return {
    limiter: parts.limiter,
    restamp: (_lease, entry, at) => {
      const now = clock.now();
      const to = at === undefined ? now : Math.min(finiteNumber('at', at), now);
      if (!driver.restamp(entry, to, now)) parts.missing('arrivalTime', 'lease.restamp()');
    },
    release: parts.release,
    overloaded: parts.overloaded,
    reconcile: (_lease, entry, cost, before, estimate) => {
      driver.reconcile(entry, cost, clock.now());
      const { limiter } = parts;
      if (limiter.listenerCount('reconciled') !== 0) {
        limiter.emit('reconciled', {
          input: cost.input,
          output: cost.output,
          reservedInput: before.input,
          reservedOutput: before.output,
          estimate,
        });
      }
      if (scheduler.size > 0) scheduler.drain();
    },
    cancel: (_lease, entry) => {
      driver.cancel(entry, clock.now());
      // A lease cancelled after its release frees its window slot with no release to wake anyone.
      if (scheduler.size > 0) scheduler.drain();
    },
  };
}
