import { createNoopMeter, type Meter } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Limiter, type Lease } from 'forestall';
import { instrument } from 'forestall/otel';
import { fixed, median, ns, table, verdict } from './core-util.js';

/*
 * What `instrument()` costs the hot path: uncontended `await acquire()` + `release()` on a limiter
 * not instrumented, instrumented on a no-op meter (`createNoopMeter()`: what an app gets from
 * `metrics.getMeter()` with no SDK registered), and on the SDK's meter (a `MeterProvider` with a
 * reader, recording into its histogram). Per call, median of 15 rounds of 20,000; the subjects
 * take turns within each round, so drift in the machine's speed affects them alike.
 */

const BATCH = 20_000;
const ROUNDS = 15;

/** The SDK collects only when asked: this one never is, so recording is all that is measured. */
class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function batch(limiter: Limiter): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < BATCH; i++) (await limiter.acquire()).release();
  return ((performance.now() - t0) * 1e6) / BATCH;
}

interface Subject {
  readonly name: string;
  readonly limiter: Limiter;
  readonly samples: number[];
}

const roomy = (): Limiter => new Limiter({ requests: { limit: 1e12, windowMs: 1_000 } });

export default async function otel(): Promise<{ title: string; markdown: string }> {
  const provider = new MeterProvider({ readers: [new IdleReader()] });
  const sdkMeter: Meter = provider.getMeter('forestall-bench');
  const subjects: Subject[] = [
    { name: 'not instrumented', limiter: roomy(), samples: [] },
    { name: '`instrument()` on a no-op meter (`createNoopMeter()`)', limiter: roomy(), samples: [] },
    { name: '`instrument()` on the SDK meter (`MeterProvider` + reader)', limiter: roomy(), samples: [] },
    { name: '(info) an empty `acquired` listener, no `instrument()`', limiter: roomy(), samples: [] },
  ];
  const [plain, noop, sdk, empty] = subjects as [Subject, Subject, Subject, Subject];
  // What the limiter itself spends once anyone listens: it builds and emits the `acquired` payload.
  empty.limiter.on('acquired', () => {});
  const handles = [
    instrument(noop.limiter, { meter: createNoopMeter(), attributes: { 'gen_ai.provider.name': 'openai' } }),
    instrument(sdk.limiter, { meter: sdkMeter, attributes: { 'gen_ai.provider.name': 'openai' } }),
  ];
  // Warm-up, so the first measured does not pay for compilation.
  for (let r = 0; r < 3; r++) for (const s of subjects) await batch(s.limiter);
  for (let r = 0; r < ROUNDS; r++) for (const s of subjects) s.samples.push(await batch(s.limiter));
  // Keep a lease of each alive to the end: see bench/core-uncontended.ts on V8 and a live lease.
  const held: Lease[] = await Promise.all(subjects.map((s) => s.limiter.acquire()));
  for (const lease of held) lease.release();
  for (const h of handles) h.close();
  await provider.shutdown();

  const base = median(plain.samples);
  const noopRatio = median(noop.samples) / base;
  const sdkRatio = median(sdk.samples) / base;
  const emptyRatio = median(empty.samples) / base;
  const goals = [['with a no-op meter within 1.2x of without', `${fixed(noopRatio, 2)}x`, verdict(noopRatio <= 1.2)]];
  const markdown = [
    `Uncontended \`await acquire()\` + \`release()\` per call (median of ${ROUNDS} rounds of ${BATCH.toLocaleString('en-US')}, subjects interleaved), in this run:`,
    '',
    table(['goal', 'measured', 'result'], goals),
    '',
    table(
      ['limiter', 'per call', 'range of rounds', 'vs not instrumented'],
      subjects.map((s) => [
        s.name,
        ns(median(s.samples)),
        `${ns(Math.min(...s.samples))} – ${ns(Math.max(...s.samples))}`,
        `${fixed(median(s.samples) / base, 2)}x`,
      ]),
    ),
    '',
    `Instrumented, the limiter calls one hook per acquire with its wait (no event payload, no \`emit\`: an \`acquired\` listener, the last row, costs ${fixed(emptyRatio, 2)}x by itself), and the hook records it into \`forestall.acquire.duration\` with attributes built once per limiter: the no-op row (${fixed(noopRatio, 2)}x). The SDK's own cost (hashing the attributes, updating the histogram) is the rest of the third row (${fixed(sdkRatio, 2)}x). Gauges are read from \`stats()\` only when the meter collects, never on the hot path.`,
  ].join('\n');
  return { title: 'Metrics: forestall/otel', markdown };
}
