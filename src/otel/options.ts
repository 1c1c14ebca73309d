import type { Attributes, AttributeValue, Meter } from '@opentelemetry/api';
import { describeValue } from '../internal/describe.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import { Limiter } from '../limiter/limiter.js';
import { LimiterRegistry } from '../registry/registry.js';

/** Options of `instrument(limiterOrRegistry, options)`. */
export interface InstrumentOptions {
  /**
   * The OpenTelemetry `Meter` every instrument is created on, e.g. `metrics.getMeter('my-app')`
   * from `@opentelemetry/api`.
   * @example
   * ```ts
   * import { metrics } from '@opentelemetry/api';
   * instrument(registry, { meter: metrics.getMeter('my-app') });
   * ```
   */
  readonly meter: Meter;
  /**
   * Attributes added to every measurement: strings, finite numbers or booleans. For a bare
   * `Limiter`, name its provider and model here (`gen_ai.provider.name`, `gen_ai.request.model`);
   * a registry names them from each limiter's key, which wins over these.
   * `gen_ai.operation.name` here replaces the default `chat` of the GenAI metrics.
   * @default {}
   * @example
   * ```ts
   * instrument(limiter, { meter, attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o' } });
   * ```
   */
  readonly attributes?: Readonly<Record<string, string | number | boolean>> | undefined;
}

/** What `instrument()` returns: `close()` (or `using`) removes every listener and observable callback. */
export interface Instrumentation extends Disposable {
  /** Stops recording: nothing is measured or observed after it. Idempotent. */
  close(): void;
}

/** What `instrument()` instruments. */
export type InstrumentTarget = Limiter | LimiterRegistry;

/** `instrument()`'s options, checked. */
export interface ResolvedInstrumentOptions {
  readonly meter: Meter;
  readonly attributes: Attributes;
}

const OPTION_KEYS: readonly string[] = ['meter', 'attributes'];

/** What a meter must have: the instruments `instrument()` creates, and batch observation. */
const METER_METHODS: readonly string[] = [
  'createHistogram',
  'createCounter',
  'createObservableGauge',
  'addBatchObservableCallback',
  'removeBatchObservableCallback',
];

/** Throws at once, naming what is wrong, unless `target` is a `Limiter` or a `LimiterRegistry`. */
export function validateTarget(target: unknown): InstrumentTarget {
  if (target instanceof Limiter || target instanceof LimiterRegistry) return target;
  throw new TypeError(
    `Expected \`limiterOrRegistry\` to be a Limiter or a LimiterRegistry, got ${describeValue(target)}`,
  );
}

/** Checks `instrument()`'s options, naming the option that is wrong. */
export function resolveInstrumentOptions(options: unknown): ResolvedInstrumentOptions {
  const o = plainObject('options', options);
  knownKeys('instrument options', o, OPTION_KEYS);
  return { meter: validateMeter(o.meter), attributes: validateAttributes(o.attributes) };
}

function validateMeter(meter: unknown): Meter {
  const expected = `an OpenTelemetry Meter (an object with ${METER_METHODS.join(', ')})`;
  if (typeof meter !== 'object' || meter === null || Array.isArray(meter)) {
    throw new TypeError(`Expected \`meter\` to be ${expected}, got ${describeValue(meter)}`);
  }
  const m = meter as Record<string, unknown>;
  const missing = METER_METHODS.filter((name) => typeof m[name] !== 'function');
  if (missing.length > 0) {
    throw new TypeError(`Expected \`meter\` to be ${expected}; it has no ${missing.map((n) => `\`${n}\``).join(', ')}`);
  }
  return meter as Meter;
}

function validateAttributes(attributes: unknown): Attributes {
  if (attributes === undefined) return {};
  const prototype = typeof attributes === 'object' && attributes !== null ? Object.getPrototypeOf(attributes) : null;
  if (prototype !== null && prototype !== Object.prototype) {
    throw new TypeError(`Expected \`attributes\` to be a plain object, got ${describeValue(attributes)}`);
  }
  const a = plainObject('attributes', attributes);
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(a)) {
    const ok =
      typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw new TypeError(
        `Expected \`attributes.${key}\` to be a string, a finite number or a boolean, got ${describeValue(value)}`,
      );
    }
    out[key] = value;
  }
  return Object.freeze(out);
}
