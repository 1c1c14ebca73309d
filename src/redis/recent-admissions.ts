import { type Cost, type ResolvedLimits, WINDOW_KINDS } from '../core/vocabulary.js';
import { BATCH, SLACK_US, us } from './wire.js';

/** One admission Redis made for this store, on the limiter's clock, kept up to date. */
export interface RecentAdmission {
  readonly id: string;
  /** Its start (moved by a restamp). */
  at: number;
  /** Its charge (replaced by a reconcile). */
  cost: Cost;
  /** Cancelled or withdrawn: no longer in Redis, not to be written back. */
  gone: boolean;
}

/**
 * This store's admissions in Redis that are still in the longest window, oldest first (at most
 * `max`): when Redis goes, the local books start from them, so a share this process had used up
 * stays used, and when it comes back they are written back (a restarted server lost them).
 * Adding one costs a push and dropping the ones that left; no copy of the log.
 */
export class RecentAdmissions {
  #items: RecentAdmission[] = [];
  #head = 0;
  /** The longest window, margin included. */
  #spanMs = 0;

  get spanMs(): number {
    return this.#spanMs;
  }

  constructor(readonly max: number) {}

  configure(limits: ResolvedLimits): void {
    const longest = Math.max(0, ...WINDOW_KINDS.flatMap((kind) => limits[kind].map((w) => w.windowMs)));
    this.#spanMs = longest + limits.marginMs;
  }

  add(id: string, at: number, cost: Cost, now: number): RecentAdmission {
    const items = this.#items;
    while (this.#head < items.length && (items[this.#head] as RecentAdmission).at + this.#spanMs <= now) this.#head++;
    if (items.length - this.#head >= this.max) this.#head++;
    const item: RecentAdmission = { id, at, cost, gone: false };
    items.push(item);
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The admissions still in the longest window at `now`, not given back. */
  live(now: number): RecentAdmission[] {
    return this.#items.slice(this.#head).filter((item) => !item.gone && item.at + this.#spanMs > now);
  }
}

/** An admission to write back to Redis: its id, start (the limiter's clock) and charge. */
export interface WrittenBack {
  readonly id: string;
  readonly at: number;
  readonly cost: Cost;
}

/** The restore script's ARGV (lua/entries.ts), in batches of at most `BATCH` entries or leases. */
export function writeBackArgs(
  entries: readonly WrittenBack[],
  leases: readonly string[],
  now: number,
  spanMs: number,
  leaseTtlMs: number,
): string[][] {
  const calls: string[][] = [];
  const head = [us(spanMs), us(leaseTtlMs), String(SLACK_US)];
  for (let i = 0; i < entries.length; i += BATCH) {
    const batch = entries.slice(i, i + BATCH);
    const args = [...head, String(batch.length)];
    for (const e of batch) args.push(e.id, us(Math.max(0, now - e.at)), `${e.cost.input}`, `${e.cost.output}`);
    calls.push(args);
  }
  for (let i = 0; i < leases.length; i += BATCH) calls.push([...head, '0', ...leases.slice(i, i + BATCH)]);
  return calls;
}
