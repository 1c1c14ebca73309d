import { MockLimits } from './mock-limits.js';
import type { ResolvedMockOptions } from './mock-options.js';
import type { MutableRecord } from './mock-stats.js';
import { seededRandom } from './seeded-random.js';

/**
 * Per-`reset()` state: limits, records and the seeded sequences. A request keeps the generation it
 * arrived in, so one admitted before a reset finishes against the old state and is not counted again.
 */
export interface Generation {
  readonly limits: MockLimits;
  readonly records: MutableRecord[];
  readonly faultRandom: () => number;
  readonly latencyRandom: () => number;
  /** Most requests in flight at once during this generation. */
  maxInFlight: number;
}

/** A fresh generation, as at the server's start. */
export function newGeneration(options: ResolvedMockOptions): Generation {
  const { windows, algorithm, seed } = options;
  return {
    limits: new MockLimits(windows, algorithm),
    records: [],
    maxInFlight: 0,
    faultRandom: seededRandom(seed),
    // A separate stream, so changing latency settings does not move which requests fault.
    latencyRandom: seededRandom(seed ^ 0x9e3779b9),
  };
}
