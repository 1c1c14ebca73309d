import { Limiter, acquireAny, type Lease } from 'forestall';
import { fixed, median, ns, table, verdict } from './core-util.js';

/*
 * Routing: what `acquireAny` costs over a single `acquire`, uncontended (every candidate has
 * room), with 2 and 4 candidates, and when the preferred candidate is full and the next admits.
 * Per call, `await` + `release()`, median of 15 batches of 20,000.
 */

const BATCH = 20_000;

async function perCall(acquire: () => Promise<Lease>): Promise<number> {
  const samples: number[] = [];
  for (let b = 0; b < 15; b++) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) (await acquire()).release();
    samples.push(((performance.now() - t0) * 1e6) / BATCH);
  }
  return median(samples);
}

const roomy = (): Limiter => new Limiter({ requests: { limit: 1e9, windowMs: 1_000 } });

export default async function routing(): Promise<{ title: string; markdown: string }> {
  const single = roomy();
  const two = [roomy(), roomy()];
  const four = [roomy(), roomy(), roomy(), roomy()];
  const full = new Limiter({ concurrency: 1 });
  const held = await full.acquire();
  const fallback = roomy();
  // Warm-up, so the first measured does not pay for compilation.
  await perCall(() => acquireAny(two));
  await perCall(() => single.acquire());
  const rows: [string, number][] = [
    ['`limiter.acquire()`', await perCall(() => single.acquire())],
    ['`acquireAny([a, b])`, a admits', await perCall(() => acquireAny(two))],
    ['`acquireAny([a, b, c, d])`, a admits', await perCall(() => acquireAny(four))],
    ['`acquireAny([full, b])`, b admits', await perCall(() => acquireAny([full, fallback]))],
  ];
  held.release();
  const base = rows[0]?.[1] as number;
  const twoRatio = (rows[1]?.[1] as number) / base;
  const goals = [
    ['`acquireAny` over 2 candidates under 2x a single acquire', `${fixed(twoRatio, 2)}x`, verdict(twoRatio < 2)],
  ];
  const markdown = [
    'Uncontended cost per call, `await` + `release()` (median of 15 batches of 20,000), in this run:',
    '',
    table(['goal', 'measured', 'result'], goals),
    '',
    table(
      ['call', 'per call', 'vs acquire'],
      rows.map(([name, value]) => [name, ns(value), `${fixed(value / base, 2)}x`]),
    ),
    '',
    'Where every candidate answers at once (the memory store), the candidates are tried in order without waiting; only when none admits at once does the caller queue in all of them.',
  ].join('\n');
  return { title: 'Routing: acquireAny', markdown };
}
