export {
  ForestallError,
  CapacityError,
  QueueFullError,
  AcquireTimeoutError,
  LimiterClosedError,
  RetryError,
} from './core/errors.js';
export type { BudgetName, RetryStopReason } from './core/errors.js';
export type { Clock, TimerHandle } from './internal/clock.js';
export { Limiter } from './limiter/limiter.js';
export type { LimiterStats, RunContext, RunOptions } from './limiter/options.js';
export { SlidingWindowLimiter } from './limiter/sliding-window-limiter.js';
export type { SlidingWindowLimiterOptions, SlidingWindowExtraOptions } from './limiter/sliding-window-limiter.js';
export { TokenBudgetLimiter } from './limiter/token-budget-limiter.js';
export type { TokenBudgetLimiterOptions } from './limiter/token-budget-limiter.js';
export { Lease } from './limiter/lease.js';
export { acquireAny } from './limiter/acquire-any.js';
export type { AcquireAnyCandidate, AcquireAnyOptions } from './limiter/acquire-any.js';
export { MemoryStore } from './stores/memory-store.js';
export { storeCapabilities } from './stores/capabilities.js';
export type { StoreCapabilities, StoreCapability } from './stores/capabilities.js';
export type {
  LimiterStore,
  AdmitResult,
  BatchRequest,
  MaybePromise,
  RemainingReport,
  StoreEntry,
  StoreUsage,
} from './stores/store.js';
export type { Cost, ResolvedLimits, ResolvedWindow, WindowKind, WindowUsage } from './core/vocabulary.js';
export type { AcquireOptions } from './core/vocabulary.js';
export type { LimiterOptions, ObserveOptions, ReconcileOptions } from './limiter/options.js';
export type { RateLimitAnswer } from './feedback/rate-limit-policy.js';
export type { AdaptiveConcurrency, LimitOptions, TokenCost, WindowLimit } from './core/vocabulary.js';
export type { Block, BlockingWindow, Diagnosis } from './core/diagnosis.js';
export type {
  AcquiredEvent,
  ConcurrencyChangedEvent,
  FallbackEvent,
  FallbackReason,
  LimiterEvents,
  OperationEvent,
  PaceChangedEvent,
  LimitsChangedEvent,
  PausedEvent,
  QueuedEvent,
  RateLimitedEvent,
  ReconciledEvent,
  RejectReason,
  RejectedEvent,
  ReleasedEvent,
  RetryEvent,
  StoreErrorEvent,
  OthersShareEvent,
} from './core/events.js';

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
export { classifyFailure } from './feedback/classify.js';
export type { ClassifyOptions } from './feedback/classify.js';
export { readErrorBody } from './feedback/response-body.js';
export type { ReadErrorBodyOptions } from './feedback/response-body.js';
export { RetryBudget } from './retry/retry-budget.js';
export type { RetryBudgetOptions, RetryCostKind } from './retry/retry-budget.js';
export { AttemptTimeoutError } from './core/attempt-timeout-error.js';
export { fullJitterDelay } from './retry/backoff.js';
export type { BackoffOptions } from './retry/backoff.js';
export { retryDelayFromHeaders, retryDelayFromBody, retryDelayFromMessage } from './feedback/server-delay.js';

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
  releaseTokenizer,
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

export { defaultModelGroup } from './providers/model-group.js';
export { LimiterRegistry } from './registry/registry.js';
export type { LimiterKey, LimiterRegistryOptions, ProviderLimits } from './registry/registry.js';
export { COUNT_TOKENS_GROUP, createLimitedFetch } from './fetch/limited-fetch.js';
export { StreamError } from './providers/stream-error.js';
export type { StreamErrorKind } from './providers/stream-error.js';
export type {
  CountFrom,
  EstimateSettings,
  FetchLike,
  LimitedFetchFallbackOptions,
  LimitedFetchOptions,
  LimitedFetchRetryOptions,
} from './fetch/limited-fetch.js';

export { runBatch, streamBatch, DEFAULT_BATCH_CONCURRENCY, DEFAULT_BATCH_READ_AHEAD } from './batch/run-batch.js';
export type {
  BatchAcquireOptions,
  BatchOptions,
  BatchProgress,
  BatchResult,
  BatchRetryOptions,
  BatchStreamResult,
  BatchWorker,
  BatchWorkerContext,
} from './batch/run-batch.js';
