export {
  ForestallError,
  CapacityError,
  QueueFullError,
  AcquireTimeoutError,
  LimiterClosedError,
  RetryError,
} from './errors.js';
export type { BudgetName, RetryStopReason } from './errors.js';
export type { Clock, TimerHandle } from './internal/clock.js';
export { Limiter } from './limiter.js';
export type { LimiterStats, RunContext, RunOptions } from './limiter.js';
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
  RemoteRemaining,
  StoreEntry,
  StoreUsage,
  WindowKind,
  WindowUsage,
} from './stores/store.js';
export type {
  AcquireOptions,
  LimitOptions,
  LimiterOptions,
  ObserveOptions,
  ReconcileOptions,
  TokenCost,
  WindowLimit,
} from './types.js';
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
  TightenedEvent,
} from './events.js';

export { retry } from './retry/retry.js';
export type { RetryOptions } from './retry/options.js';
export type {
  RetryContext,
  RetryLease,
  RetryLimiter,
  FailureClassification,
  FailureReason,
  ShouldRetryContext,
} from './retry/types.js';
export { classifyFailure } from './retry/classify.js';
export type { ClassifyOptions } from './retry/classify.js';
export { readErrorBody } from './retry/response-body.js';
export type { ReadErrorBodyOptions } from './retry/response-body.js';
export { RetryBudget } from './retry/retry-budget.js';
export type { RetryBudgetOptions, RetryCostKind } from './retry/retry-budget.js';
export { AttemptTimeoutError } from './retry/attempt-timeout-error.js';
export { fullJitterDelay } from './retry/backoff.js';
export type { BackoffOptions } from './retry/backoff.js';
export { retryDelayFromHeaders, retryDelayFromBody, retryDelayFromMessage } from './retry/server-delay.js';

export { parseRateLimitHeaders } from './providers/headers.js';
export { parseGoDuration, formatGoDuration } from './providers/go-duration.js';
export { PROVIDER_NAMES } from './providers/types.js';
export type { ProviderName, RateLimitSnapshot, RateLimitWindowSnapshot } from './providers/types.js';
export type { HeaderSource } from './providers/header-reader.js';

export {
  countTokens,
  countMessageTokens,
  estimateRequestTokens,
  DEFAULT_OUTPUT_RESERVATION,
  encodingForModel,
  preloadTokenizer,
  estimateTokensFast,
} from './tokens/index.js';
export type {
  CountTokensOptions,
  CountMessageTokensOptions,
  ChatMessageLike,
  EstimateRequestTokensOptions,
  RequestApi,
  RequestTokenEstimate,
  TokenEncodingName,
  PreloadTokenizerOptions,
  TokenCountMode,
} from './tokens/index.js';
export { usageFromResponse, StreamUsageWatcher } from './providers/usage.js';
export type { TokenUsage } from './providers/usage.js';

export { LimiterRegistry } from './registry.js';
export type { LimiterKey, LimiterRegistryOptions, ProviderLimits } from './registry.js';
export { createLimitedFetch } from './fetch.js';
export type { EstimateSettings, FetchLike, LimitedFetchOptions, LimitedFetchRetryOptions } from './fetch.js';

export { runBatch, streamBatch, DEFAULT_BATCH_CONCURRENCY, DEFAULT_BATCH_READ_AHEAD } from './batch.js';
export type {
  BatchAcquireOptions,
  BatchOptions,
  BatchProgress,
  BatchResult,
  BatchRetryOptions,
  BatchStreamResult,
  BatchWorker,
  BatchWorkerContext,
} from './batch.js';
