import { type Cost, type ResolvedLimits, WINDOW_KINDS } from '../core/vocabulary.js';

/** One admission Redis made for this store, on the limiter's clock. */
export interface RecentAdmission {
  readonly at: number;
  readonly cost: Cost;
}

/**
 * This store's admissions in Redis that are still in the longest window, oldest first (at most
 * `max`): when Redis goes, the local books start from them, so a share this process had used up
 * stays used. Adding one costs a push and dropping the ones that left; no copy of the log.
 */
export class RecentAdmissions {
  #items: RecentAdmission[] = [];
  #head = 0;
  /** The longest window, margin included. */
  #spanMs = 0;

  constructor(readonly max: number) {}

  configure(limits: ResolvedLimits): void {
    const longest = Math.max(0, ...WINDOW_KINDS.flatMap((kind) => limits[kind].map((w) => w.windowMs)));
    this.#spanMs = longest + limits.marginMs;
  }

  add(at: number, cost: Cost, now: number): void {
    const items = this.#items;
    while (this.#head < items.length && (items[this.#head] as RecentAdmission).at + this.#spanMs <= now) this.#head++;
    if (items.length - this.#head >= this.max) this.#head++;
    items.push({ at, cost });
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Hands over every admission kept, and keeps none. */
  take(): RecentAdmission[] {
    const taken = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return taken;
  }
}
