import type { Cost } from '../core/vocabulary.js';
import { messageOf } from '../internal/message-of.js';
import type { AdmitResult } from '../stores/store.js';
import { type AdmitAsk, admitArgs, type AdmitReply, parseAdmitReply } from './admit-protocol.js';
import { type Booking, type Bookings, droppedBooking } from './bookings.js';
import { RedisEntry } from './entries.js';
import { isOutage, RedisStoreError } from './errors.js';
import type { LeaseRenewal } from './lease-renewal.js';
import type { ResolvedRedisOptions } from './options.js';
import type { OutageKeeper } from './outage-policy.js';
import type { ScriptRunner } from './script-runner.js';
import { ADMIT, ADMIT_STATUS } from './scripts.js';
import type { WindowLayout } from './window-layout.js';
import type { RedisWrites } from './writes.js';

/** One admission to ask Redis about: a waiter's (which may be booked a slot), or a caller's that may not wait. */
export interface Asked {
  readonly cost: Cost;
  readonly waiter?: object | undefined;
}

/** What asking Redis needs from its store. */
export interface RemoteAdmitHost {
  readonly options: ResolvedRedisOptions;
  readonly runner: ScriptRunner;
  /** The admit script's KEYS. */
  readonly keys: readonly string[];
  readonly bookings: Bookings;
  readonly leases: LeaseRenewal;
  readonly outage: OutageKeeper;
  readonly writes: RedisWrites;
  /** The window layout in force (it may change while a call is on the wire). */
  layout(): WindowLayout;
  /** The concurrency limit in force. */
  concurrency(): number | undefined;
  /** Book slots only on entries that can no longer move (see `RedisStore.expectRestamps`). */
  settledOnly(): boolean;
  /** A reply came: what it says of the key (peers, usage, a pause), with server times to the limiter's clock. */
  heard(reply: AdmitReply, local: (serverTime: number) => number): void;
}

/** Server times to the limiter's clock, as if the script ran when the answer arrived. */
function local(r: AdmitReply, received: number, t: number): number {
  // Waits end no earlier than the server meant, whichever way the network delay fell.
  return received + (t - r.now) / 1_000;
}

/**
 * The Redis store's admissions that ask Redis: one admit script call for one waiter or several (in
 * queue order), and what each answer means for its waiter's booking, lease and entry.
 */
export class RemoteAdmit {
  readonly #host: RemoteAdmitHost;
  /** When this store last counted itself among the key's peers (the limiter's clock). */
  #peerSentAt = Number.NEGATIVE_INFINITY;

  constructor(host: RemoteAdmitHost) {
    this.#host = host;
  }

  /** Asks Redis about `requests` in one call: an answer for each of a prefix of them. */
  async admit(requests: readonly Asked[], now: number): Promise<AdmitResult[]> {
    const h = this.#host;
    const o = h.options;
    const asks: AdmitAsk[] = [];
    const bookings: Booking[] = [];
    for (const { cost, waiter } of requests) {
      const previous = h.bookings.get(waiter);
      // A stale booking (or one to confirm) goes back to Redis under its own id.
      const replace = previous?.booked === true && !o.confirmBookings;
      if (previous?.recent !== undefined) previous.recent.gone = true;
      const booking = h.bookings.open(waiter, previous, cost);
      booking.inflight = true;
      bookings.push(booking);
      asks.push({
        id: booking.id,
        cost,
        mayBook: waiter !== undefined,
        replace,
        fresh: previous === undefined,
        settledOnly: h.settledOnly(),
      });
    }
    const layout = h.layout();
    const concurrency = layout.limited ? h.concurrency() : undefined;
    // Counted among the key's peers about once a second, not on every call.
    const peer = now - this.#peerSentAt >= 1_000 ? h.bookings.peer : '';
    if (peer !== '') this.#peerSentAt = now;
    const args = admitArgs(asks, { concurrency, peer }, o, layout);
    const clock = h.runner.clock;
    const sent = clock.now();
    let reply: unknown;
    try {
      reply = await h.runner.run(ADMIT, h.keys, args);
    } catch (error) {
      for (const [k, booking] of bookings.entries()) {
        booking.inflight = false;
        h.bookings.delete(requests[k]?.waiter);
        if (isOutage(error)) h.writes.orphan(booking.id);
        else if (booking.booked) h.writes.forgetQuietly([droppedBooking(booking)], []);
      }
      if (!isOutage(error)) throw new RedisStoreError('admit', messageOf(error), { cause: error });
      // The script may have run before the connection failed: whatever it took is given back later.
      h.outage.enter(error);
      return [await h.outage.admit((requests[0] as Asked).cost, now)];
    }
    for (const booking of bookings) booking.inflight = false;
    const received = now + (clock.now() - sent);
    let r: AdmitReply;
    try {
      r = parseAdmitReply(reply, asks.length);
    } catch (error) {
      for (const { waiter } of requests) h.bookings.delete(waiter);
      throw error;
    }
    if (r.peers < 0 && peer !== '') this.#peerSentAt = Number.NEGATIVE_INFINITY;
    h.heard(r, (t) => local(r, received, t));
    const answers: AdmitResult[] = [];
    for (const [k, answer] of r.answers.entries()) {
      const { cost, waiter } = requests[k] as Asked;
      answers.push(this.#answer(answer.status, answer.at, r, received, bookings[k] as Booking, cost, waiter));
    }
    // Those after the first not admitted were not looked at: nothing taken, asked afresh later.
    for (let k = r.answers.length; k < requests.length; k++) h.bookings.delete(requests[k]?.waiter);
    return answers;
  }

  /** What one answer of the admit script means for its waiter. */
  #answer(
    status: number,
    serverAt: number,
    r: AdmitReply,
    received: number,
    booking: Booking,
    cost: Cost,
    waiter: object | undefined,
  ): AdmitResult {
    const h = this.#host;
    const at = local(r, received, serverAt);
    // As configured now: the limits may have changed while the call was on the wire.
    const limited = h.layout().limited;
    // A replaced or refused booking no longer holds the lease it may have had.
    if (booking.leased) {
      h.leases.forget(booking.id);
      booking.leased = false;
    }
    switch (status) {
      case ADMIT_STATUS.admitted: {
        h.bookings.delete(waiter);
        if (limited) h.leases.hold(booking.id);
        const recent = h.outage.admitted(booking.id, at, cost, received, r.born);
        // A caller that left meanwhile gets this entry cancelled and released by the limiter.
        return new RedisEntry(at, booking.id, limited, recent, serverAt, cost);
      }
      case ADMIT_STATUS.booked: {
        h.bookings.book(booking, at, serverAt);
        booking.recent = h.outage.admitted(booking.id, at, cost, received, r.born);
        booking.leased = limited && !h.options.confirmBookings;
        if (booking.leased) h.leases.hold(booking.id);
        if (booking.withdrawn) {
          h.bookings.givenBack(booking.at, booking.recent);
          h.writes.forgetQuietly([droppedBooking(booking)], []);
        }
        return at;
      }
      case ADMIT_STATUS.wait:
        booking.booked = false;
        h.leases.stopIfIdle();
        return at;
      default:
        h.bookings.delete(waiter);
        h.leases.stopIfIdle();
        throw new RedisStoreError(
          'admit',
          `a cost of ${cost.input + cost.output} tokens exceeds a whole budget of quota "${h.options.key}"`,
        );
    }
  }
}
