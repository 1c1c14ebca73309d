import { type Cost, type ResolvedLimits, WINDOW_KINDS } from '../core/vocabulary.js';
import { BATCH, us } from './wire.js';

/** One admission Redis made for this store, on the limiter's clock, kept up to date. */
export interface RecentAdmission {
  readonly id: string;
  /** Its start (moved by a restamp). */
  at: number;
  /** Its charge (replaced by a reconcile). */
  cost: Cost;
  /** Cancelled or withdrawn: no longer in Redis, not to be written back. */
  gone: boolean;
  /** The Redis state that counts it (its `born`; see RESTORE in lua/entries.ts). */
  generation: number;
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

  add(id: string, at: number, cost: Cost, now: number, generation: number): RecentAdmission {
    const items = this.#items;
    while (this.#head < items.length && (items[this.#head] as RecentAdmission).at + this.#spanMs <= now) this.#head++;
    if (items.length - this.#head >= this.max) this.#head++;
    const item: RecentAdmission = { id, at, cost, gone: false, generation };
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

/** An admission to write back to Redis: its id, start (the limiter's clock), charge and generation (0: local). */
export interface WrittenBack {
  readonly id: string;
  readonly at: number;
  readonly cost: Cost;
  generation: number;
}

/** One call of the restore script, and the admissions it writes back. */
export interface WriteBack {
  readonly args: string[];
  readonly entries: readonly WrittenBack[];
}

/**
 * The restore script's calls (lua/entries.ts), in batches of at most `BATCH` entries or leases;
 * `head` is its leading ARGV (groups, keep, longest window, lease ttl, slack).
 */
export function writeBackArgs(
  entries: readonly WrittenBack[],
  leases: readonly string[],
  now: number,
  head: readonly string[],
): WriteBack[] {
  const calls: WriteBack[] = [];
  for (let i = 0; i < entries.length; i += BATCH) {
    const batch = entries.slice(i, i + BATCH);
    const args = [...head, String(batch.length)];
    for (const e of batch) {
      const { input, output, spend = 0 } = e.cost;
      args.push(e.id, us(Math.max(0, now - e.at)), `${input}`, `${output}`, `${spend}`, String(e.generation));
    }
    calls.push({ args, entries: batch });
  }
  for (let i = 0; i < leases.length; i += BATCH)
    calls.push({ args: [...head, '0', ...leases.slice(i, i + BATCH)], entries: [] });
  return calls;
}
