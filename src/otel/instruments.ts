import type { Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';
import {
  ACQUIRE_DURATION_BUCKETS,
  METRIC_NAMES,
  OPERATION_DURATION_BUCKETS,
  PAUSE_DURATION_BUCKETS,
  TOKEN_USAGE_BUCKETS,
} from './names.js';

/** The instruments `instrument()` records with, created once per call on the user's meter. */
export interface Instruments {
  readonly acquireDuration: Histogram;
  readonly pauseDuration: Histogram;
  readonly tokenUsage: Histogram;
  readonly operationDuration: Histogram;
  readonly rateLimited: Counter;
  readonly retries: Counter;
  readonly fallbacks: Counter;
  readonly queueSize: ObservableGauge;
  readonly leasesActive: ObservableGauge;
  readonly windowUtilization: ObservableGauge;
  readonly concurrencyLimit: ObservableGauge;
}

/** The observable gauges, for one batch callback. */
export function observables(instruments: Instruments): ObservableGauge[] {
  return [instruments.queueSize, instruments.leasesActive, instruments.windowUtilization, instruments.concurrencyLimit];
}

/**
 * Creates every instrument. Bucket advice (`advice.explicitBucketBoundaries`, `@opentelemetry/api`
 * 1.7 and later) follows the GenAI conventions where they give one; an older API ignores it.
 */
export function createInstruments(meter: Meter): Instruments {
  const histogram = (name: string, unit: string, description: string, buckets: readonly number[]): Histogram =>
    meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: [...buckets] } });
  return {
    acquireDuration: histogram(
      METRIC_NAMES.acquireDuration,
      's',
      'How long acquire() waited for the limiter, by outcome (admitted, timed_out, aborted, rejected).',
      ACQUIRE_DURATION_BUCKETS,
    ),
    pauseDuration: histogram(
      METRIC_NAMES.pauseDuration,
      's',
      'Pauses of admissions for every caller (after a 429 or a retry-after).',
      PAUSE_DURATION_BUCKETS,
    ),
    tokenUsage: histogram(
      METRIC_NAMES.tokenUsage,
      '{token}',
      'Tokens a request used, as reconciled with the usage the provider reported.',
      TOKEN_USAGE_BUCKETS,
    ),
    operationDuration: histogram(
      METRIC_NAMES.operationDuration,
      's',
      "A request from its first attempt to its final answer (its headers; a stream's first content), retries included.",
      OPERATION_DURATION_BUCKETS,
    ),
    rateLimited: meter.createCounter(METRIC_NAMES.rateLimited, {
      unit: '{request}',
      description: 'Requests the server refused for a rate limit (HTTP 429, or a rate-limit error in a stream).',
    }),
    retries: meter.createCounter(METRIC_NAMES.retries, {
      unit: '{retry}',
      description: 'Waits before another attempt, by the reason the failure was retried.',
    }),
    fallbacks: meter.createCounter(METRIC_NAMES.fallbacks, {
      unit: '{request}',
      description: 'Requests sent to a fallback model instead of the one they named.',
    }),
    queueSize: meter.createObservableGauge(METRIC_NAMES.queueSize, {
      unit: '{request}',
      description: 'Callers waiting for the limiter.',
    }),
    leasesActive: meter.createObservableGauge(METRIC_NAMES.leasesActive, {
      unit: '{lease}',
      description: 'Leases held: admitted and not yet released.',
    }),
    windowUtilization: meter.createObservableGauge(METRIC_NAMES.windowUtilization, {
      unit: '1',
      description: 'Use of each window (used / limit), by limit kind and window length.',
    }),
    concurrencyLimit: meter.createObservableGauge(METRIC_NAMES.concurrencyLimit, {
      unit: '{lease}',
      description: 'The concurrency cap in force (adaptive concurrency moves it); absent when unlimited.',
    }),
  };
}
