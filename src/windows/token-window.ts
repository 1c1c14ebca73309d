import type { Cost } from '../core/vocabulary.js';
import { ChargeWindow } from './charge-window.js';
import type { WindowEntry } from './request-window.js';

/**
 * At most `limit` tokens charged to requests that started in any interval of `span` ms: an exact
 * log of the entries. Each request's charge stays in the window from its start for `span`,
 * whatever it was reconciled to.
 */
export class TokenWindow<E extends WindowEntry = WindowEntry> extends ChargeWindow<E> {
  add(entry: E): void {
    this.items.push(entry);
    this.sum += this.charge(entry);
  }

  /** Applies a new charge to an entry still in the window (call before updating the entry). */
  recharge(entry: E, cost: Cost, now: number): void {
    this.prune(now);
    if (entry.start + this.span <= now) return;
    this.sum += this.charge(cost) - this.charge(entry);
  }

  remove(entry: E, now: number): void {
    this.prune(now);
    const index = this.items.remove(entry);
    if (index < 0) return;
    if (index < this.live) {
      this.live--;
      return;
    }
    this.sum -= this.charge(entry);
    if (this.live === this.items.length) this.sum = 0;
  }

  /** Adds a charge that starts at `entry.start`, which may be earlier than the newest (a restamp). */
  insert(entry: E, now: number): void {
    this.prune(now);
    // Already outside the window: nothing to count. Otherwise it sorts after every charge that left.
    if (entry.start + this.span <= now) return;
    this.items.insertBefore(entry, (existing) => existing.start > entry.start);
    this.sum += this.charge(entry);
  }

  /** Entries still in the window, oldest first. */
  entries(): IterableIterator<E> {
    return this.liveItems();
  }
}
