import type { BatchObservableResult } from '@opentelemetry/api';
import type { LimiterEvents } from '../core/events.js';
import { WINDOW_KINDS } from '../core/vocabulary.js';
import type { LimiterStats } from '../limiter/options.js';
import type { LimiterAttributes } from './attributes.js';
import type { Instruments } from './instruments.js';

/** The events `instrument()` listens to. */
export type RecordedEvent = 'rejected' | 'paused' | 'reconciled' | 'operation' | 'rateLimited' | 'retry' | 'fallback';

/** Records one event of one limiter, with that limiter's attributes. */
export type Recorder<E extends RecordedEvent> = (
  event: Parameters<LimiterEvents[E]>[0],
  attributes: LimiterAttributes,
) => void;

/** One recorder per event listened to. */
export type Recorders = { readonly [E in RecordedEvent]: Recorder<E> };

/** Milliseconds (the events' unit) to seconds (the conventions'). */
const MS_PER_S = 1_000;

/**
 * Records each admission's wait (`forestall.acquire.duration`, admitted): called by the limiter's
 * acquire hook once per acquire, it reads a prebuilt attribute set and records one number.
 */
export function admittedRecorder(instruments: Instruments, attributes: LimiterAttributes): (waitedMs: number) => void {
  const { acquireDuration } = instruments;
  const admitted = attributes.admitted;
  return (waitedMs) => acquireDuration.record(waitedMs / MS_PER_S, admitted);
}

/** What each event records. */
export function recorders(instruments: Instruments): Recorders {
  const { acquireDuration, pauseDuration, tokenUsage, operationDuration, rateLimited, retries, fallbacks } =
    instruments;
  return {
    rejected: (event, attributes) => {
      // A candidate `acquireAny` withdrew from: the call itself was served by another limiter.
      if (event.reason !== 'withdrawn')
        acquireDuration.record(event.waitedMs / MS_PER_S, attributes.rejected(event.reason));
    },
    paused: (event, attributes) => pauseDuration.record(event.ms / MS_PER_S, attributes.base),
    reconciled: (event, attributes) => {
      // A better estimate is not usage.
      if (event.estimate) return;
      tokenUsage.record(event.input, attributes.inputTokens);
      tokenUsage.record(event.output, attributes.outputTokens);
    },
    operation: (event, attributes) =>
      operationDuration.record(event.durationMs / MS_PER_S, attributes.operation(event)),
    rateLimited: (event, attributes) => rateLimited.add(1, attributes.rateLimited(event.status)),
    retry: (event, attributes) => retries.add(1, attributes.retry(event.reason)),
    fallback: (event, attributes) => fallbacks.add(1, attributes.fallback(event)),
  };
}

/** The observable gauges of one limiter, from one `stats()` read at collection. */
export function observeStats(
  result: BatchObservableResult,
  instruments: Instruments,
  stats: LimiterStats,
  attributes: LimiterAttributes,
): void {
  result.observe(instruments.queueSize, stats.queued, attributes.base);
  result.observe(instruments.leasesActive, stats.inFlight, attributes.base);
  if (stats.concurrency !== undefined) result.observe(instruments.concurrencyLimit, stats.concurrency, attributes.base);
  for (const kind of WINDOW_KINDS) {
    for (const window of stats[kind]) {
      const utilization = window.limit > 0 ? window.used / window.limit : 0;
      result.observe(instruments.windowUtilization, utilization, attributes.window(kind, window.windowMs));
    }
  }
}
