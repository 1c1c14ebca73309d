import { describe, expectTypeOf, it } from 'vitest';
import {
  Limiter,
  TokenBudgetLimiter,
  type AcquireOptions,
  type Lease,
  type LimiterStats,
  type TokenCost,
} from '../src/index.js';

describe('types', () => {
  it('a lease works with await using and using', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 } });
    expectTypeOf(limiter.acquire()).resolves.toEqualTypeOf<Lease>();
    expectTypeOf<Lease>().toMatchTypeOf<AsyncDisposable>();
    expectTypeOf<Lease>().toMatchTypeOf<Disposable>();
    await using lease = await limiter.acquire({ tokens: 10 });
    expectTypeOf(lease.waitedMs).toBeNumber();
    expectTypeOf(lease.reconcile).parameter(0).toEqualTypeOf<TokenCost>();
  });

  it('acquire options are typed', () => {
    const limiter = new Limiter();
    expectTypeOf(limiter.acquire).parameter(0).toEqualTypeOf<AcquireOptions | undefined>();
    // @ts-expect-error tokens must be a number or { input, output }
    void limiter.acquire({ tokens: '5' });
    // @ts-expect-error unknown option
    void limiter.acquire({ token: 5 });
    // @ts-expect-error signal must be an AbortSignal
    void limiter.acquire({ signal: true });
    void limiter.acquire({
      tokens: { input: 5, output: 2 },
      priority: 1,
      timeoutMs: 100,
      signal: AbortSignal.timeout(5),
    });
    // @ts-expect-error tryAcquire never waits, so it takes no signal
    limiter.tryAcquire({ signal: AbortSignal.timeout(5) });
    expectTypeOf(limiter.tryAcquire()).toEqualTypeOf<Lease | undefined>();
    expectTypeOf(limiter.stats()).toEqualTypeOf<LimiterStats>();
  });

  it('TokenBudgetLimiter takes a plain number', () => {
    const limiter = new TokenBudgetLimiter({ limit: 100, windowMs: 1_000 });
    expectTypeOf(limiter.acquire(5)).resolves.toEqualTypeOf<Lease>();
    expectTypeOf(limiter.tryAcquire(5)).toEqualTypeOf<Lease | undefined>();
  });

  it('run returns what fn returns', () => {
    const limiter = new Limiter();
    expectTypeOf(limiter.run(() => 5)).resolves.toBeNumber();
    expectTypeOf(limiter.run(async (lease: Lease) => lease.waitedMs > 0)).resolves.toBeBoolean();
  });
});
