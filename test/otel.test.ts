import { ACQUIRE_HOOK } from '../src/limiter/hot-listeners.js';
import { createNoopMeter, type Attributes, type Meter } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, Limiter, LimiterRegistry, QueueFullError, createLimitedFetch } from '../src/index.js';
import { METRIC_NAMES, instrument } from '../src/otel/index.js';
import { startMockServer, type MockServer, type MockServerOptions } from '../src/testing/index.js';

/** A reader the test collects from when it wants, no timers. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Harness {
  readonly meter: Meter;
  collect(): Promise<Map<string, MetricData>>;
}

const providers: MeterProvider[] = [];
const servers: MockServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

function harness(): Harness {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  providers.push(provider);
  return {
    meter: provider.getMeter('forestall-test'),
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) byName.set(m.descriptor.name, m);
      return byName;
    },
  };
}

async function start(options: MockServerOptions): Promise<MockServer> {
  const server = await startMockServer(options);
  servers.push(server);
  return server;
}

function matches(attributes: Attributes, want: Attributes): boolean {
  return Object.entries(want).every(([k, v]) => attributes[k] === v);
}

/** The data points of `name` whose attributes include `want`. */
function points(metrics: Map<string, MetricData>, name: string, want: Attributes = {}): DataPoint<unknown>[] {
  const metric = metrics.get(name);
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<unknown>[]).filter((p) => matches(p.attributes, want));
}

/** Count and sum over the matching points of a histogram. */
function histogram(metrics: Map<string, MetricData>, name: string, want: Attributes = {}) {
  const type = metrics.get(name)?.dataPointType;
  if (type !== undefined) expect(type).toBe(DataPointType.HISTOGRAM);
  let count = 0;
  let sum = 0;
  for (const p of points(metrics, name, want) as DataPoint<Histogram>[]) {
    count += p.value.count;
    sum += p.value.sum ?? 0;
  }
  return { count, sum };
}

/** The sum of the matching points of a counter or the value of a gauge (summed over matches). */
function value(metrics: Map<string, MetricData>, name: string, want: Attributes = {}): number {
  return (points(metrics, name, want) as DataPoint<number>[]).reduce((total, p) => total + p.value, 0);
}

const minute = (limit: number) => ({ limit, windowMs: 60_000 });
const chat = (model: string) =>
  JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'Say hello to the meter.' }] });

describe('instrument() against the mock provider', () => {
  it('records one admitted acquire per request, the usage the mock charged, and windows as stats() sees them', async () => {
    const server = await start({
      provider: 'openai',
      requests: minute(100),
      tokens: minute(1_000_000),
      tokenizer: 'fast',
    });
    const registry = new LimiterRegistry({ providers: { openai: { default: { requests: minute(100) } } } });
    const { meter, collect } = harness();
    using _metering = instrument(registry, { meter });
    const limited = createLimitedFetch({ limiter: registry, provider: 'openai' });
    const sent = 12;
    for (let i = 0; i < sent; i++) {
      const res = await limited(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-secret-key' },
        body: chat('gpt-4o-mini'),
      });
      expect(res.status).toBe(200);
      await res.json();
    }
    const [[key, limiter]] = registry.entries() as [[{ provider: string; model: string | undefined }, Limiter]];
    expect(key).toEqual({ provider: 'openai', model: 'gpt-4o-mini' });
    const mock = server.stats();
    const stats = limiter.stats();
    const metrics = await collect();
    const who = { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' };

    expect(mock.accepted).toBe(sent);
    const admitted = histogram(metrics, METRIC_NAMES.acquireDuration, { ...who, 'forestall.outcome': 'admitted' });
    expect(admitted.count).toBe(mock.accepted);
    expect(histogram(metrics, METRIC_NAMES.acquireDuration).count).toBe(sent);

    const input = histogram(metrics, METRIC_NAMES.tokenUsage, { ...who, 'gen_ai.token.type': 'input' });
    const output = histogram(metrics, METRIC_NAMES.tokenUsage, { ...who, 'gen_ai.token.type': 'output' });
    expect(input).toEqual({ count: sent, sum: mock.inputTokens });
    expect(output).toEqual({ count: sent, sum: mock.outputTokens });
    expect(points(metrics, METRIC_NAMES.tokenUsage)[0]?.attributes['gen_ai.operation.name']).toBe('chat');

    expect(value(metrics, METRIC_NAMES.queueSize, who)).toBe(stats.queued);
    expect(value(metrics, METRIC_NAMES.leasesActive, who)).toBe(stats.inFlight);
    const requests = { ...who, 'forestall.limit.kind': 'requests', 'forestall.window.ms': 60_000 };
    expect(stats.requests[0]?.used).toBe(sent);
    expect(value(metrics, METRIC_NAMES.windowUtilization, requests)).toBeCloseTo(sent / 100, 10);
    // Every window stats() reports (learned token windows too) has its point, and no other.
    const windows = (['requests', 'tokens', 'inputTokens', 'outputTokens'] as const).flatMap((kind) => stats[kind]);
    expect(points(metrics, METRIC_NAMES.windowUtilization)).toHaveLength(windows.length);
    // No key or header reaches an attribute.
    expect(JSON.stringify([...metrics.values()].map((m) => m.dataPoints))).not.toContain('sk-test');
  });

  it('counts a 429 the mock answered as forestall.rate_limited and the pause it caused', async () => {
    const server = await start({ provider: 'openai', requests: minute(1), tokenizer: 'fast' });
    // Two processes share the mock's quota: the first uses it, the second learns of it from a 429.
    const first = new LimiterRegistry({ providers: { openai: { default: { requests: minute(10) } } } });
    const second = new LimiterRegistry({ providers: { openai: { default: { requests: minute(10) } } } });
    const { meter, collect } = harness();
    using _first = instrument(first, { meter, attributes: { process: 1 } });
    using _second = instrument(second, { meter, attributes: { process: 2 } });
    const send = (registry: LimiterRegistry) =>
      createLimitedFetch({ limiter: registry, provider: 'openai', retry: false })(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chat('gpt-4o'),
      });
    const ok = await send(first);
    expect(ok.status).toBe(200);
    await ok.text();
    const refused = await send(second);
    expect(refused.status).toBe(429);
    await refused.text();
    const metrics = await collect();
    const mock = server.stats();
    expect(mock.rejected429).toBe(1);
    const who = { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o' };
    const refusedHere = { ...who, process: 2, 'http.response.status_code': 429 };
    expect(value(metrics, METRIC_NAMES.rateLimited, refusedHere)).toBe(1);
    expect(value(metrics, METRIC_NAMES.rateLimited)).toBe(mock.rejected429);
    expect(histogram(metrics, METRIC_NAMES.pauseDuration, { ...who, process: 2 }).count).toBe(1);
    expect(histogram(metrics, METRIC_NAMES.pauseDuration, { process: 1 }).count).toBe(0);
    expect(histogram(metrics, METRIC_NAMES.acquireDuration, who).count).toBe(mock.total);
    await first.close();
    await second.close();
  });
});

describe('acquire outcomes', () => {
  it('records timed_out, aborted and rejected (with its reason) with the time waited', async () => {
    const limiter = new Limiter({ concurrency: 1, maxQueue: 2 });
    const { meter, collect } = harness();
    using _metering = instrument(limiter, { meter, attributes: { 'gen_ai.provider.name': 'openai' } });
    const held = await limiter.acquire();
    await expect(limiter.acquire({ timeoutMs: 30 })).rejects.toBeInstanceOf(AcquireTimeoutError);
    const controller = new AbortController();
    const aborted = limiter.acquire({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 10);
    await expect(aborted).rejects.toThrow('user gave up');
    const waiting = [limiter.acquire(), limiter.acquire()].map((p) => p.then((lease) => lease.release()));
    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
    held.release();
    await Promise.all(waiting);

    const metrics = await collect();
    const base = { 'gen_ai.provider.name': 'openai' };
    const timedOut = histogram(metrics, METRIC_NAMES.acquireDuration, { ...base, 'forestall.outcome': 'timed_out' });
    expect(timedOut.count).toBe(1);
    expect(timedOut.sum).toBeGreaterThanOrEqual(0.025);
    expect(timedOut.sum).toBeLessThan(1);
    const abortedPoint = histogram(metrics, METRIC_NAMES.acquireDuration, { 'forestall.outcome': 'aborted' });
    expect(abortedPoint.count).toBe(1);
    expect(abortedPoint.sum).toBeGreaterThan(0);
    const full = points(metrics, METRIC_NAMES.acquireDuration, { 'forestall.outcome': 'rejected' });
    expect(full).toHaveLength(1);
    expect(full[0]?.attributes).toEqual({
      ...base,
      'forestall.outcome': 'rejected',
      'forestall.reject_reason': 'queue-full',
    });
    expect(histogram(metrics, METRIC_NAMES.acquireDuration, { 'forestall.outcome': 'admitted' }).count).toBe(3);
    // The error (its message) never becomes an attribute.
    expect(JSON.stringify(metrics.get(METRIC_NAMES.acquireDuration)?.dataPoints)).not.toContain('gave up');
  });
});

describe('events without the fetch wrapper', () => {
  it('counts retries by reason, never the error', async () => {
    const limiter = new Limiter();
    const { meter, collect } = harness();
    using _metering = instrument(limiter, { meter });
    const error = new Error('401 invalid key sk-live-abcdef');
    limiter.retrying({ attempt: 1, delayMs: 10, error, reason: 'rate-limited' });
    limiter.retrying({ attempt: 2, delayMs: 20, error, reason: 'rate-limited' });
    limiter.retrying({ attempt: 1, delayMs: 10, error, reason: 'server-error' });
    limiter.rateLimited({ status: 429, retryAfterMs: 5 });
    const metrics = await collect();
    expect(value(metrics, METRIC_NAMES.retries, { 'forestall.retry_reason': 'rate-limited' })).toBe(2);
    expect(value(metrics, METRIC_NAMES.retries, { 'forestall.retry_reason': 'server-error' })).toBe(1);
    expect(value(metrics, METRIC_NAMES.rateLimited, { 'http.response.status_code': 429 })).toBe(1);
    expect(JSON.stringify([...metrics.values()].map((m) => m.dataPoints))).not.toContain('sk-live');
  });

  it('counts fallbacks with the model asked for, the one that served and why', async () => {
    const registry = new LimiterRegistry();
    const { meter, collect } = harness();
    using _metering = instrument(registry, { meter });
    const mini = registry.get('openai', 'gpt-4o-mini');
    mini.emit('fallback', { requested: 'gpt-4o', served: 'gpt-4o-mini', reason: 'wait' });
    mini.emit('fallback', { requested: 'gpt-4o', served: 'gpt-4o-mini', reason: 'wait' });
    mini.emit('fallback', { requested: 'gpt-4o', served: 'gpt-4o-mini', reason: 'rate-limited' });
    const metrics = await collect();
    const want = {
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-mini',
    };
    expect(value(metrics, METRIC_NAMES.fallbacks, { ...want, 'forestall.fallback_reason': 'wait' })).toBe(2);
    expect(value(metrics, METRIC_NAMES.fallbacks, { ...want, 'forestall.fallback_reason': 'rate-limited' })).toBe(1);
  });

  it('records gen_ai.client.operation.duration from the operation event, the served model and error.type', async () => {
    const registry = new LimiterRegistry();
    const { meter, collect } = harness();
    using _metering = instrument(registry, { meter });
    const limiter = registry.get('openai', 'gpt-4o-mini-2024-07-18');
    const operation = { status: 200, error: undefined, streaming: false, attempts: 1 };
    limiter.emit('operation', { ...operation, durationMs: 250, requestedModel: 'gpt-4o', model: 'gpt-4o-mini' });
    limiter.emit('operation', { ...operation, durationMs: 750, requestedModel: 'gpt-4o', model: 'gpt-4o-mini' });
    limiter.emit('operation', {
      ...operation,
      durationMs: 100,
      requestedModel: 'gpt-4o-mini-2024-07-18',
      model: 'gpt-4o-mini-2024-07-18',
      status: 429,
      error: 'rate-limited',
      attempts: 3,
    });
    const metrics = await collect();
    const base = { 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat' };
    const served = histogram(metrics, METRIC_NAMES.operationDuration, {
      ...base,
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-mini',
    });
    expect(served.count).toBe(2);
    expect(served.sum).toBeCloseTo(1, 10);
    const failed = points(metrics, METRIC_NAMES.operationDuration, { 'error.type': 'rate-limited' });
    expect(failed).toHaveLength(1);
    expect(failed[0]?.attributes).toEqual({
      ...base,
      'gen_ai.request.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'error.type': 'rate-limited',
    });
    expect(metrics.get(METRIC_NAMES.operationDuration)?.descriptor.unit).toBe('s');
  });

  it('follows the GenAI conventions: units and bucket advice', async () => {
    const limiter = new Limiter();
    const { meter, collect } = harness();
    using _metering = instrument(limiter, { meter });
    const lease = await limiter.acquire({ tokens: 10 });
    lease.reconcile({ input: 300, output: 20 });
    lease.release();
    limiter.emit('operation', {
      durationMs: 1,
      requestedModel: 'm',
      model: 'm',
      status: 200,
      error: undefined,
      streaming: true,
      attempts: 1,
    });
    const metrics = await collect();
    const usage = metrics.get(METRIC_NAMES.tokenUsage);
    expect(usage?.descriptor.unit).toBe('{token}');
    const first = usage?.dataPoints[0] as DataPoint<Histogram>;
    expect(first.value.buckets.boundaries.slice(0, 3)).toEqual([1, 4, 16]);
    const duration = metrics.get(METRIC_NAMES.operationDuration)?.dataPoints[0] as DataPoint<Histogram>;
    expect(duration.value.buckets.boundaries.slice(0, 3)).toEqual([0.01, 0.02, 0.04]);
    expect(metrics.get(METRIC_NAMES.acquireDuration)?.descriptor.unit).toBe('s');
    expect(histogram(metrics, METRIC_NAMES.tokenUsage, { 'gen_ai.token.type': 'input' }).sum).toBe(300);
    expect(histogram(metrics, METRIC_NAMES.tokenUsage, { 'gen_ai.token.type': 'output' }).sum).toBe(20);
  });
});

describe('gauges read at collection', () => {
  it('reports the adaptive concurrency cap, queue and leases of the moment', async () => {
    const limiter = new Limiter({ concurrency: { adaptive: true, max: 8, initial: 3 } });
    const unlimited = new Limiter();
    const { meter, collect } = harness();
    using _a = instrument(limiter, { meter, attributes: { 'gen_ai.provider.name': 'anthropic', tier: 2 } });
    using _b = instrument(unlimited, { meter, attributes: { 'gen_ai.provider.name': 'openai' } });
    const leases = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    const waiting = limiter.acquire();
    let metrics = await collect();
    const anthropic = { 'gen_ai.provider.name': 'anthropic', tier: 2 };
    expect(value(metrics, METRIC_NAMES.concurrencyLimit, anthropic)).toBe(3);
    expect(limiter.stats().concurrency).toBe(3);
    expect(points(metrics, METRIC_NAMES.concurrencyLimit, { 'gen_ai.provider.name': 'openai' })).toEqual([]);
    expect(value(metrics, METRIC_NAMES.leasesActive, anthropic)).toBe(3);
    expect(value(metrics, METRIC_NAMES.queueSize, anthropic)).toBe(1);
    for (const lease of leases) lease.release();
    (await waiting).release();
    metrics = await collect();
    expect(value(metrics, METRIC_NAMES.leasesActive, anthropic)).toBe(0);
    expect(value(metrics, METRIC_NAMES.queueSize, anthropic)).toBe(0);
    expect(value(metrics, METRIC_NAMES.concurrencyLimit, anthropic)).toBe(limiter.stats().concurrency);
  });

  it('a registry: limiters created after instrument() are recorded and observed too', async () => {
    const registry = new LimiterRegistry({
      providers: { anthropic: { default: { requests: minute(50), inputTokens: minute(10_000) } } },
    });
    const { meter, collect } = harness();
    using _metering = instrument(registry, { meter, attributes: { 'deployment.environment.name': 'test' } });
    expect(registry.entries()).toHaveLength(0);
    const limiter = registry.get('anthropic', 'claude-sonnet-4-5-20250929');
    const lease = await limiter.acquire({ tokens: { input: 2_500 } });
    const metrics = await collect();
    const who = {
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'deployment.environment.name': 'test',
    };
    expect(histogram(metrics, METRIC_NAMES.acquireDuration, who).count).toBe(1);
    expect(value(metrics, METRIC_NAMES.leasesActive, who)).toBe(1);
    expect(
      value(metrics, METRIC_NAMES.windowUtilization, {
        ...who,
        'forestall.limit.kind': 'inputTokens',
        'forestall.window.ms': 60_000,
      }),
    ).toBeCloseTo(0.25, 10);
    lease.release();
  });
});

describe('close()', () => {
  it('two instrumentations of one limiter each record; closing one leaves the other', async () => {
    const limiter = new Limiter({ requests: minute(100) });
    const first = harness();
    const second = harness();
    const a = instrument(limiter, { meter: first.meter });
    const b = instrument(limiter, { meter: second.meter });
    (await limiter.acquire()).release();
    a.close();
    (await limiter.acquire()).release();
    expect(histogram(await first.collect(), METRIC_NAMES.acquireDuration).count).toBe(1);
    expect(histogram(await second.collect(), METRIC_NAMES.acquireDuration).count).toBe(2);
    b.close();
    expect(limiter[ACQUIRE_HOOK]).toBeUndefined();
  });

  it('removes every listener and callback: nothing more is recorded or observed', async () => {
    const limiter = new Limiter({ requests: minute(100) });
    const registry = new LimiterRegistry();
    const { meter, collect } = harness();
    const one = instrument(limiter, { meter });
    const all = instrument(registry, { meter });
    const early = registry.get('openai', 'gpt-4o');
    (await limiter.acquire()).release();
    (await early.acquire()).release();
    expect(limiter[ACQUIRE_HOOK]).toBeTypeOf('function');
    one.close();
    all.close();
    one.close(); // idempotent
    expect(limiter[ACQUIRE_HOOK]).toBeUndefined();
    expect(early[ACQUIRE_HOOK]).toBeUndefined();
    const before = await collect();
    const late = registry.get('openai', 'gpt-4.1');
    expect(late[ACQUIRE_HOOK]).toBeUndefined();
    for (const l of [limiter, early, late]) {
      (await l.acquire()).release();
      l.emit('fallback', { requested: 'a', served: 'b', reason: 'wait' });
      l.rateLimited({ status: 429 });
    }
    const after = await collect();
    expect(histogram(after, METRIC_NAMES.acquireDuration).count).toBe(2);
    expect(histogram(before, METRIC_NAMES.acquireDuration).count).toBe(2);
    expect(value(after, METRIC_NAMES.fallbacks)).toBe(0);
    expect(value(after, METRIC_NAMES.rateLimited)).toBe(0);
    expect(points(after, METRIC_NAMES.queueSize)).toEqual([]);
    expect(points(after, METRIC_NAMES.windowUtilization)).toEqual([]);
  });

  it('`using` closes the handle at the end of the block', async () => {
    const limiter = new Limiter();
    {
      using _metering = instrument(limiter, { meter: createNoopMeter() });
      expect(limiter[ACQUIRE_HOOK]).toBeTypeOf('function');
    }
    expect(limiter[ACQUIRE_HOOK]).toBeUndefined();
  });

  it('records nothing from a limiter never instrumented (and makes it build no event payload)', async () => {
    const seen = new Limiter();
    const unseen = new Limiter();
    const { meter, collect } = harness();
    using _metering = instrument(seen, { meter });
    (await unseen.acquire()).release();
    expect(unseen[ACQUIRE_HOOK] === undefined && unseen.listenerCount('acquired') === 0).toBe(true);
    const metrics = await collect();
    expect(histogram(metrics, METRIC_NAMES.acquireDuration).count).toBe(0);
    expect(points(metrics, METRIC_NAMES.queueSize)).toHaveLength(1);
  });
});

describe('bad input fails at once, naming the option', () => {
  const meter = createNoopMeter();
  it('a target that is no Limiter or LimiterRegistry', () => {
    for (const target of [undefined, {}, 'openai', { on() {}, stats() {} }]) {
      expect(() => instrument(target as never, { meter })).toThrow(TypeError);
      expect(() => instrument(target as never, { meter })).toThrow(
        /`limiterOrRegistry` to be a Limiter or a LimiterRegistry/,
      );
    }
  });

  it('a missing or invalid meter', () => {
    const limiter = new Limiter();
    expect(() => instrument(limiter, undefined as never)).toThrow(/`options` to be an object/);
    expect(() => instrument(limiter, {} as never)).toThrow(
      /Expected `meter` to be an OpenTelemetry Meter.*got `undefined`/,
    );
    expect(() => instrument(limiter, { meter: 'meter' as never })).toThrow(/`meter`.*got `"meter"` \(string\)/);
    const partial = { createHistogram() {}, createCounter() {} };
    expect(() => instrument(limiter, { meter: partial as never })).toThrow(/no `createObservableGauge`/);
    expect(limiter[ACQUIRE_HOOK] === undefined && limiter.listenerCount('acquired') === 0).toBe(true);
  });

  it('unknown options and attributes that are not strings, numbers or booleans', () => {
    const limiter = new Limiter();
    expect(() => instrument(limiter, { meter, atributes: {} } as never)).toThrow(/Unknown option `atributes`/);
    expect(() => instrument(limiter, { meter, attributes: [] as never })).toThrow(/`attributes` to be a plain object/);
    expect(() => instrument(limiter, { meter, attributes: new Map() as never })).toThrow(
      /`attributes` to be a plain object/,
    );
    expect(() => instrument(limiter, { meter, attributes: { team: { a: 1 } } as never })).toThrow(
      /`attributes.team` to be a string, a finite number or a boolean, got `object`/,
    );
    expect(() => instrument(limiter, { meter, attributes: { n: Number.NaN } })).toThrow(/`attributes.n`/);
    expect(() => instrument(limiter, { meter, attributes: { ok: true, n: 1, s: 'x' } }).close()).not.toThrow();
  });
});
