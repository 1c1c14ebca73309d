import type { BatchObservableCallback } from '@opentelemetry/api';
import type { Limiter } from '../limiter/limiter.js';
import type { LimiterKey } from '../registry/registry.js';
import { LimiterRegistry } from '../registry/registry.js';
import { LimiterAttributes } from './attributes.js';
import { createInstruments, observables } from './instruments.js';
import { type InstrumentOptions, type Instrumentation, resolveInstrumentOptions, validateTarget } from './options.js';
import { ACQUIRE_HOOK } from '../limiter/hot-listeners.js';
import { admittedRecorder, observeStats, type RecordedEvent, type Recorders, recorders } from './recorders.js';

type Listener = (event: unknown, key?: LimiterKey) => void;
type AnyOn = (name: RecordedEvent, listener: Listener) => unknown;

const RECORDED_EVENTS: readonly RecordedEvent[] = [
  'rejected',
  'paused',
  'reconciled',
  'operation',
  'rateLimited',
  'retry',
  'fallback',
];

/**
 * Records a limiter's (or every limiter of a registry's) waits, queue, windows, 429s, retries,
 * fallbacks and token usage as OpenTelemetry metrics on `meter`. A registry's limiters created
 * later are recorded too, each with its provider and model group (`gen_ai.provider.name`,
 * `gen_ai.request.model`). Gauges (`forestall.queue.size`, `forestall.leases.active`,
 * `forestall.window.utilization`, `forestall.concurrency.limit`) are read from `stats()` when the
 * meter collects. Nothing is recorded from a limiter not instrumented.
 *
 * Returns a handle: `close()` (or `using`) removes every listener and observable callback.
 *
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { LimiterRegistry, createLimitedFetch } from 'forestall';
 * import { instrument } from 'forestall/otel';
 *
 * const registry = new LimiterRegistry();
 * const metering = instrument(registry, { meter: metrics.getMeter('my-app') });
 * const fetch = createLimitedFetch({ limiter: registry, provider: 'openai' });
 * // ... on shutdown:
 * metering.close();
 * ```
 */
export function instrument(limiterOrRegistry: Limiter | LimiterRegistry, options: InstrumentOptions): Instrumentation {
  const target = validateTarget(limiterOrRegistry);
  const { meter, attributes } = resolveInstrumentOptions(options);
  const instruments = createInstruments(meter);
  const record = recorders(instruments);
  const wiring =
    target instanceof LimiterRegistry ? registryWiring(target, attributes) : limiterWiring(target, attributes);

  const listeners = RECORDED_EVENTS.map((name) => {
    const listener = wiring.listener(record, name);
    (target.on as AnyOn).call(target, name, listener);
    return [name, listener] as const;
  });
  // Each acquire's wait through the limiter's hook, not an `acquired` listener (no payload, no emit).
  const unhook = wiring.eachLimiter((limiter, limiterAttributes) =>
    hook(limiter, admittedRecorder(instruments, limiterAttributes)),
  );
  const gauges = observables(instruments);
  const observe: BatchObservableCallback = (result) => {
    for (const [limiter, limiterAttributes] of wiring.limiters()) {
      const stats = limiter.stats();
      if (!stats.closed) observeStats(result, instruments, stats, limiterAttributes);
    }
  };
  meter.addBatchObservableCallback(observe, gauges);

  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    for (const [name, listener] of listeners) (target.off as AnyOn).call(target, name, listener);
    unhook();
    meter.removeBatchObservableCallback(observe, gauges);
  };
  return { close, [Symbol.dispose]: close };
}

/** How one kind of target hands its limiters and their attributes to the recorders. */
interface Wiring {
  listener(record: Recorders, name: RecordedEvent): Listener;
  limiters(): Iterable<readonly [Limiter, LimiterAttributes]>;
  /** Calls `fn` for each limiter, those created later too; returns what undoes every call. */
  eachLimiter(fn: (limiter: Limiter, attributes: LimiterAttributes) => () => void): () => void;
}

/** The acquire hooks of every instrumentation of a limiter (several may watch one). */
const hooks = new WeakMap<Limiter, Set<(waitedMs: number) => void>>();

/** Adds `fn` to the limiter's acquire hook; returns what removes it (and the hook, when the last). */
function hook(limiter: Limiter, fn: (waitedMs: number) => void): () => void {
  let set = hooks.get(limiter);
  if (set === undefined) {
    const all = new Set<(waitedMs: number) => void>();
    set = all;
    hooks.set(limiter, all);
  }
  set.add(fn);
  const all = set;
  limiter[ACQUIRE_HOOK] =
    all.size === 1
      ? fn
      : (waitedMs) => {
          for (const f of all) f(waitedMs);
        };
  return () => {
    all.delete(fn);
    const [only] = all;
    limiter[ACQUIRE_HOOK] =
      all.size === 0
        ? undefined
        : all.size === 1
          ? only
          : (waitedMs) => {
              for (const f of all) f(waitedMs);
            };
  };
}

function limiterWiring(limiter: Limiter, user: LimiterAttributes['base']): Wiring {
  const attributes = new LimiterAttributes(user);
  const only = [[limiter, attributes] as const];
  return {
    listener: (record, name) => {
      const fn = record[name] as (event: unknown, attributes: LimiterAttributes) => void;
      return (event) => fn(event, attributes);
    },
    limiters: () => only,
    eachLimiter: (fn) => fn(limiter, attributes),
  };
}

function registryWiring(registry: LimiterRegistry, user: LimiterAttributes['base']): Wiring {
  // Keyed by the registry's own key objects: `on` hands each limiter's to its listeners and
  // `entries()` returns the same ones, so a lookup allocates nothing.
  const byKey = new WeakMap<LimiterKey, LimiterAttributes>();
  const attributesOf = (key: LimiterKey): LimiterAttributes => {
    let found = byKey.get(key);
    if (found === undefined) {
      found = new LimiterAttributes(user, key);
      byKey.set(key, found);
    }
    return found;
  };
  return {
    listener: (record, name) => {
      const fn = record[name] as (event: unknown, attributes: LimiterAttributes) => void;
      return (event, key) => fn(event, attributesOf(key as LimiterKey));
    },
    limiters: () => registry.entries().map(([key, limiter]) => [limiter, attributesOf(key)] as const),
    eachLimiter: (fn) => {
      const undo: (() => void)[] = [];
      const stop = registry.eachLimiter((limiter, key) => undo.push(fn(limiter, attributesOf(key))));
      return () => {
        stop();
        for (const u of undo) u();
      };
    },
  };
}
