import type { Block, Diagnosis } from '../core/diagnosis.js';
import type { Cost } from '../core/vocabulary.js';
import { WINDOW_KIND_TABLE, WINDOW_KINDS } from '../core/vocabulary.js';
import type { QueuedEvent } from '../core/events.js';
import type { Clock } from '../internal/clock.js';
import type { LimiterStore } from '../stores/store.js';
import type { Gates } from './gates.js';
import type { Limits } from './limits.js';
import type { Scheduler } from './scheduler.js';
import type { StoreDriver } from './store-driver.js';
import type { Waiter } from './waiter.js';

export type { Block, Diagnosis } from '../core/diagnosis.js';

/** The parts of a limiter a diagnosis reads. */
export interface DiagnosisParts {
  readonly store: LimiterStore;
  readonly gates: Gates;
  readonly concurrency: number;
  readonly inFlight: number;
  /** Until when the pause after this limiter's last 429 lasts. */
  readonly rateLimitedUntil: number;
  /** An asynchronous store's admission of the head is on the wire. */
  readonly admitting: boolean;
  earliest(cost: Cost, now: number): number | undefined;
}

/** No block: the fast path's, and a waiter's until someone listens. */
export const NO_BLOCKS: readonly Block[] = Object.freeze([]);

/** Every reason `cost` cannot start now, in the order the limiter meets them. */
export function blocksOf(parts: DiagnosisParts, cost: Cost, now: number): readonly Block[] {
  const blocks: Block[] = [];
  const { gates, store, inFlight } = parts;
  if (gates.sync.probing && inFlight > 0) blocks.push({ type: 'first-contact' });
  const adaptive = gates.adaptive;
  const limit = adaptive?.limit ?? parts.concurrency;
  if (inFlight >= limit) blocks.push({ type: 'concurrency', limit, inFlight, adaptive: adaptive !== undefined });
  const paceUntil = gates.holdUntil(now);
  if (paceUntil > now && paceUntil !== Number.POSITIVE_INFINITY) {
    blocks.push({ type: 'pace', intervalMs: gates.paceIntervalMs, until: paceUntil, forMs: paceUntil - now });
  }
  const usage = store.usage(now);
  if (usage.pausedUntil > now) {
    const reason = parts.rateLimitedUntil >= usage.pausedUntil ? 'rate-limited' : 'paused';
    blocks.push({ type: 'pause', until: usage.pausedUntil, forMs: usage.pausedUntil - now, reason });
  }
  if (store.blocking !== undefined) {
    for (const w of store.blocking(cost, now)) {
      blocks.push({ type: 'window', ...w, freesInMs: w.freesAt - now });
    }
  } else {
    // Without the store's own account: the windows its usage shows full for this cost.
    for (const kind of WINDOW_KINDS) {
      const needs = WINDOW_KIND_TABLE[kind].charge(cost);
      for (const w of usage[kind]) {
        if (w.used + needs > w.limit) {
          const { windowMs } = w;
          blocks.push({
            type: 'window',
            kind,
            windowMs,
            limit: w.limit,
            used: w.used,
            othersShare: 0,
            needs,
            freesAt: undefined,
            freesInMs: undefined,
          });
        }
      }
    }
  }
  if (parts.admitting) blocks.push({ type: 'store', admitting: true });
  return blocks.length === 0 ? NO_BLOCKS : blocks;
}

/** The diagnosis of a queue whose head is `head` (undefined when empty). */
export function diagnosis(
  parts: DiagnosisParts,
  now: number,
  queued: number,
  head: { readonly cost: Cost; readonly priority: number; readonly enqueuedAt: number } | undefined,
): Diagnosis {
  return {
    at: now,
    queued,
    inFlight: parts.inFlight,
    head:
      head === undefined
        ? undefined
        : {
            waitedMs: now - head.enqueuedAt,
            priority: head.priority,
            tokens: head.cost,
            blockedBy: blocksOf(parts, head.cost, now),
            startsAt: parts.earliest(head.cost, now),
          },
  };
}

/** The limiter as its diagnostics see it: its `queued` event and listeners. */
interface Emitter {
  emit(event: 'queued', payload: QueuedEvent): boolean;
  listenerCount(event: 'queued'): number;
}

/** `limiter.diagnose()` and the `blockedBy` of the `queued` and `acquired` events. */
export class Diagnostics {
  constructor(
    readonly clock: Clock,
    readonly driver: StoreDriver,
    readonly gates: Gates,
    readonly limits: Limits,
    readonly scheduler: Scheduler,
    readonly emitter: Emitter,
  ) {}

  diagnose(): Diagnosis {
    const now = this.clock.now();
    const head = this.scheduler.head;
    return diagnosis(this.#parts(head), now, this.scheduler.size, head);
  }

  /**
   * A caller joined the queue, `queued` long with it: what holds it back is worked out when anyone
   * listens (`queued` now, or `acquired` later), and told to `queued` listeners.
   */
  queued(waiter: Waiter, queued: number, hearsAcquired: boolean): void {
    const listening = this.emitter.listenerCount('queued') !== 0;
    if (!listening && !hearsAcquired) return;
    const own = blocksOf(this.#parts(waiter), waiter.cost, this.clock.now());
    waiter.blockedBy = this.scheduler.head === waiter ? own : [{ type: 'queue' }, ...own];
    if (listening) this.emitter.emit('queued', { queued, priority: waiter.priority, blockedBy: waiter.blockedBy });
  }

  #parts(waiter: Waiter | undefined): DiagnosisParts {
    const { driver, gates } = this;
    return {
      store: driver.store,
      gates,
      concurrency: this.limits.resolved.concurrency,
      inFlight: gates.inFlight(),
      rateLimitedUntil: gates.rateLimitedUntil,
      admitting: waiter !== undefined && driver.isAdmitting(waiter),
      earliest: (cost, now) => driver.earliest(cost, now),
    };
  }
}
