/**
 * The names `forestall/otel` records under, declared once: metric names, attribute keys, and the
 * histogram buckets each metric advises.
 */

/** Every metric `instrument()` records, by name. */
export const METRIC_NAMES = Object.freeze({
  /** Histogram (s): how long `acquire()` waited, admitted or not (`forestall.outcome`). */
  acquireDuration: 'forestall.acquire.duration',
  /** Observable gauge: callers waiting (`stats().queued`). */
  queueSize: 'forestall.queue.size',
  /** Observable gauge: leases held (`stats().inFlight`). */
  leasesActive: 'forestall.leases.active',
  /** Observable gauge (1): `used / limit` of each window, per kind and window length. */
  windowUtilization: 'forestall.window.utilization',
  /** Observable gauge: the concurrency cap in force (the adaptive one moves); absent when unlimited. */
  concurrencyLimit: 'forestall.concurrency.limit',
  /** Counter: answers that refused a request for a rate limit (the `rateLimited` event). */
  rateLimited: 'forestall.rate_limited',
  /** Counter: waits before another attempt (the `retry` event). */
  retries: 'forestall.retries',
  /** Counter: requests the fetch wrapper sent to a fallback model (the `fallback` event). */
  fallbacks: 'forestall.fallbacks',
  /** Histogram (s): each pause of admissions for everyone (the `paused` event). */
  pauseDuration: 'forestall.pause.duration',
  /** GenAI convention, histogram ({token}): tokens a request used, as reconciled, input and output apart. */
  tokenUsage: 'gen_ai.client.token.usage',
  /** GenAI convention, histogram (s): a request from its first send to the end of its answer. */
  operationDuration: 'gen_ai.client.operation.duration',
} as const);

/** Attribute keys. The `gen_ai.*`, `error.type` and `http.*` ones follow the OpenTelemetry conventions. */
export const ATTR = Object.freeze({
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  operationName: 'gen_ai.operation.name',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
  outcome: 'forestall.outcome',
  rejectReason: 'forestall.reject_reason',
  retryReason: 'forestall.retry_reason',
  fallbackReason: 'forestall.fallback_reason',
  limitKind: 'forestall.limit.kind',
  windowMs: 'forestall.window.ms',
} as const);

/** `gen_ai.operation.name` when the attributes given name none: the fetch wrapper serves chat APIs. */
export const DEFAULT_OPERATION_NAME = 'chat';

/** The GenAI conventions' advice for `gen_ai.client.token.usage`. */
export const TOKEN_USAGE_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** The GenAI conventions' advice for `gen_ai.client.operation.duration`. */
export const OPERATION_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/**
 * Waits for the limiter: most are 0 (a bucket of their own), the rest run from milliseconds to the
 * length of a minute window and beyond.
 */
export const ACQUIRE_DURATION_BUCKETS: readonly number[] = [
  0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** Pauses after 429s: from a fraction of a second to the longest `retry-after` a server names. */
export const PAUSE_DURATION_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];
