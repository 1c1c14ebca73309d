export {
  ForestallError,
  CapacityError,
  QueueFullError,
  AcquireTimeoutError,
  LimiterClosedError,
  RetryError,
} from './errors.js';
export type { BudgetName } from './errors.js';
export type { Clock, TimerHandle } from './internal/clock.js';
export { Limiter } from './limiter.js';
export type { LimiterStats, RunOptions } from './limiter.js';
export { SlidingWindowLimiter } from './sliding-window-limiter.js';
export type { SlidingWindowLimiterOptions, SlidingWindowExtraOptions } from './sliding-window-limiter.js';
export { TokenBudgetLimiter } from './token-budget-limiter.js';
export type { TokenBudgetLimiterOptions } from './token-budget-limiter.js';
export { Lease } from './lease.js';
export { MemoryStore } from './stores/memory-store.js';
export type {
  LimiterStore,
  Admission,
  Cost,
  MaybePromise,
  ResolvedLimits,
  ResolvedWindow,
  StoreEntry,
  StoreUsage,
  WindowUsage,
} from './stores/store.js';
export type { AcquireOptions, LimitOptions, LimiterOptions, TokenCost, WindowLimit } from './types.js';
export type {
  AcquiredEvent,
  LimiterEvents,
  LimitsChangedEvent,
  PausedEvent,
  QueuedEvent,
  RateLimitedEvent,
  RejectReason,
  RejectedEvent,
  ReleasedEvent,
  RetryEvent,
  StoreErrorEvent,
} from './events.js';
