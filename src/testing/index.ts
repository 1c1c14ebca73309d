/*
 * `forestall/testing`: a local mock of the OpenAI and Anthropic APIs that enforces rate limits the
 * way the providers do, for testing clients and limiters against something realistic.
 */
export { startMockServer } from './mock-server.js';
export type { MockServer } from './mock-server.js';
export type {
  MockAlgorithm,
  MockCapacity,
  MockFaults,
  MockLatencyRange,
  MockProvider,
  MockServerOptions,
  MeterKind as MockLimitKind,
} from './mock-options.js';
export type { MockOutcome, MockRequestRecord, MockStats, MockWindowStats } from './mock-stats.js';
export type { TokenAmounts as MockTokenAmounts } from './mock-limits.js';
export type { MockTokenizer } from './mock-tokenizer.js';
export { FakeClock } from './fake-clock.js';
export { storeConformance } from './store-conformance.js';
export type { StoreConformanceCase, StoreConformanceOptions } from './store-conformance.js';
