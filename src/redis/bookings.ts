import { randomBytes } from 'node:crypto';
import type { Cost } from '../core/vocabulary.js';
import type { RecentAdmission } from './recent-admissions.js';
import type { Dropped } from './writes.js';

/** What the store knows about one waiting caller across `admit` calls. */
export interface Booking {
  readonly id: string;
  /** A future slot is booked in Redis. */
  booked: boolean;
  /** When the booked slot starts, on the limiter's clock. */
  at: number;
  /** When it starts on the server's clock (microseconds). */
  serverAt: number;
  /** The charge it was booked with. */
  cost: Cost;
  /** The booking holds its concurrency lease. */
  leased: boolean;
  /** An admit call for it is on the wire. */
  inflight: boolean;
  /** The caller left while the call was on the wire: whatever it booked must be given back. */
  withdrawn: boolean;
  /** How the store remembers the booked admission, to write it back after an outage. */
  recent?: RecentAdmission | undefined;
}

/**
 * The store's admissions in the making: an id for each (this store's id among the peers, then a
 * counter), the booking of each waiting caller, and the newest start Redis answered, which no
 * later admission precedes (Redis books first come, first served).
 */
export class Bookings {
  /** This store's id among the peers, and the prefix of every entry id it makes. */
  readonly peer = randomBytes(6).toString('base64url');
  readonly #byWaiter = new WeakMap<object, Booking>();
  #counter = 0;
  #newestStart = 0;

  /** The latest start Redis answered (a booked slot, perhaps), on the limiter's clock; 0 when given back. */
  get newestStart(): number {
    return this.#newestStart;
  }

  get(waiter: object | undefined): Booking | undefined {
    return waiter === undefined ? undefined : this.#byWaiter.get(waiter);
  }

  /** A new entry id: this store's id among the peers, then a counter. */
  newId(): string {
    return `${this.peer}.${(this.#counter++).toString(36)}`;
  }

  /** `previous`, or a new booking under a new id, kept for `waiter` (if any) until deleted. */
  open(waiter: object | undefined, previous: Booking | undefined, cost: Cost): Booking {
    if (previous !== undefined) {
      previous.cost = cost;
      return previous;
    }
    const booking: Booking = {
      id: this.newId(),
      booked: false,
      at: 0,
      serverAt: -1,
      cost,
      leased: false,
      inflight: false,
      withdrawn: false,
    };
    if (waiter !== undefined) this.#byWaiter.set(waiter, booking);
    return booking;
  }

  delete(waiter: object | undefined): void {
    if (waiter !== undefined) this.#byWaiter.delete(waiter);
  }

  /** Redis booked a slot for `booking` starting at `at`. */
  book(booking: Booking, at: number, serverAt: number): void {
    booking.booked = true;
    booking.at = at;
    booking.serverAt = serverAt;
    if (at > this.#newestStart) this.#newestStart = at;
  }

  /**
   * An admission was given back (cancelled, withdrawn, replaced): not to be written back after an
   * outage, and when its start was the newest, it no longer bounds the next admission.
   */
  givenBack(at: number, recent: RecentAdmission | undefined): void {
    if (recent !== undefined) recent.gone = true;
    if (at >= this.#newestStart) this.#newestStart = 0;
  }
}

/** What the scripts are to believe of a booking they drop. */
export function droppedBooking(b: Booking): Dropped {
  return {
    id: b.id,
    at: b.booked ? b.serverAt : -1,
    input: b.cost.input,
    output: b.cost.output,
    spend: b.cost.spend ?? 0,
  };
}
