import type { OthersShareEvent } from '../core/events.js';
import { PROVIDER_WINDOW_KINDS, type WindowKind, type WindowLimit } from '../core/vocabulary.js';
import type { RateLimitSnapshot } from '../providers/types.js';
import type { LimiterStore } from '../stores/store.js';
import { announcedLimits, type LimitsInForce, learnOthersShares, reportsRemaining } from './header-learning.js';

/** What one observation of the provider's headers changed. */
export interface Observation {
  /** Others' shares in force after it, for the `othersShare` event. */
  readonly learned: readonly OthersShareEvent[];
  /** The snapshot said what remains, and the store cannot learn others' share from it. */
  readonly othersShareMissed: boolean;
}

/**
 * The provider's headers as the limiter learns from them, and the first-contact rule: until the
 * first answer, one request at a time (`limits: 'auto'`, or the fetch wrapper's first use), so
 * the limits and others' use are known before a burst goes out.
 */
export class HeaderSync {
  #observed = false;
  #probing: boolean;
  /** The longest reset reported for each kind whose window the headers do not state. */
  readonly #longestReset: Partial<Record<WindowKind, number>> = {};

  constructor(probing: boolean) {
    this.#probing = probing;
  }

  /** Whether an answer has been observed. */
  get observed(): boolean {
    return this.#observed;
  }

  /** Whether only one request at a time may be in flight, waiting for the first answer. */
  get probing(): boolean {
    return this.#probing;
  }

  /** One request first until the first observation. Does nothing once observed. */
  probeUntilObserved(): void {
    if (!this.#observed) this.#probing = true;
  }

  /**
   * Learns from `snapshot`: first the announced limits, handed to `adopt` when they (or the
   * one-at-a-time start) change, so the store holds the windows the report is about; then, on a
   * store that can, others' share of what the server says remains, with our use taken at its
   * highest since `since`.
   */
  observe(
    snapshot: RateLimitSnapshot,
    store: LimiterStore,
    limits: LimitsInForce,
    at: { readonly since: number; readonly now: number; readonly refused: boolean },
    adopt: (adopted: Partial<Record<WindowKind, WindowLimit>>) => void,
  ): Observation {
    for (const kind of PROVIDER_WINDOW_KINDS) {
      const reset = snapshot[kind]?.resetMs;
      if (snapshot[kind]?.windowMs === undefined && reset !== undefined && reset > (this.#longestReset[kind] ?? 0))
        this.#longestReset[kind] = reset;
    }
    const adopted = announcedLimits(snapshot, limits, this.#longestReset);
    const changed = Object.keys(adopted).length > 0 || this.#probing;
    this.#observed = true;
    this.#probing = false;
    if (changed) adopt(adopted);
    if (store.learnOthersShare === undefined) return { learned: [], othersShareMissed: reportsRemaining(snapshot) };
    const learner = store as Required<Pick<LimiterStore, 'learnOthersShare'>>;
    const learned = learnOthersShares(learner, snapshot, limits, at.since, at.now, at.refused);
    return { learned, othersShareMissed: false };
  }
}
