import type { Lease } from '../limiter/lease.js';
import type { ConformanceCaseSpec } from './conformance-harness.js';

/*
 * What a lease gives back: token budgets charged at admission and corrected by reconcile, input
 * and output budgets kept apart, cancel (the slot and the tokens) and release (concurrency only).
 */

const reconcile: ConformanceCaseSpec = {
  name: 'token budget: reconcile refunds a smaller charge and adds a larger one',
  async run(h) {
    const w = h.windowMs;
    const budget = `token budget of 100 per ${w} ms`;
    const limiter = h.limiter({ tokens: { limit: 100, windowMs: w } });
    const a = await h.startNow(limiter, 'a start of 80 tokens', budget, { tokens: 80 });
    a.reconcile(20);
    await h.settle();
    const b = await h.startNow(
      limiter,
      'a start of 70 tokens',
      `${budget}: after reconciling 80 down to 20, 70 more fit at once`,
      { tokens: 70 },
    );
    b.reconcile(90);
    await h.settle();
    const c = h.track('a start of 1 token', () => limiter.acquire({ tokens: 1 }));
    const over = `${budget}: 20 + 90 charged after reconciling 70 up to 90`;
    await h.waiting(c, `${over}, so nothing more fits`);
    const end = Math.max(h.startOf(a), h.startOf(b)) + w;
    await h.admittedAt(c, end, `${over}: room comes back when both leave, at ${h.fmt(end)}`);
  },
};

const inputOutput: ConformanceCaseSpec = {
  name: 'token budgets: input and output are kept apart',
  async run(h) {
    const w = h.windowMs;
    const budgets = `input budget of 100 and output budget of 50 per ${w} ms`;
    const limiter = h.limiter({ inputTokens: { limit: 100, windowMs: w }, outputTokens: { limit: 50, windowMs: w } });
    const a = await h.startNow(limiter, 'a start of 60 in + 10 out', budgets, { tokens: { input: 60, output: 10 } });
    await h.startNow(limiter, 'a start of 30 in + 30 out', `${budgets}: 90 in and 40 out fit`, {
      tokens: { input: 30, output: 30 },
    });
    const moreInput = h.track('a start of 20 in', () => limiter.acquire({ tokens: { input: 20, output: 0 } }));
    await h.waiting(moreInput, `${budgets}: 90 in charged, so 20 more in cannot fit`);
    const end = h.startOf(a) + w;
    await h.admittedAt(moreInput, end, `${budgets}: room for input comes back at ${h.fmt(end)}`);
    // A new window holds 20 in and 0 out: output has its whole budget.
    await h.startNow(limiter, 'a start of 45 out', `${budgets}: 20 in and 0 out charged, so 45 out fit`, {
      tokens: { input: 0, output: 45 },
    });
    const moreOutput = h.track('a start of 10 out', () => limiter.acquire({ tokens: { input: 0, output: 10 } }));
    await h.waiting(moreOutput, `${budgets}: 45 out charged (20 in), so 10 more out cannot fit`);
  },
};

const cancel: ConformanceCaseSpec = {
  name: 'cancel: gives back the request slot and the tokens',
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 2 per ${w} ms with a token budget of 100`;
    const limiter = h.limiter({ requests: { limit: 2, windowMs: w }, tokens: { limit: 100, windowMs: w } });
    const a = await h.startNow(limiter, 'a start of 60 tokens', limits, { tokens: 60 });
    const b = await h.startNow(limiter, 'a start of 40 tokens', limits, { tokens: 40 });
    a.cancel();
    await h.settle();
    await h.startNow(
      limiter,
      'a start of 60 tokens',
      `${limits}: cancelling the 1st (60 tokens) must free its slot and its tokens, so 60 more start at once`,
      { tokens: 60 },
    );
    // A lease released first and cancelled afterwards gives back the same.
    b.release();
    b.cancel();
    await h.settle();
    await h.startNow(
      limiter,
      'a start of 40 tokens',
      `${limits}: cancelling a released lease (40 tokens) must free its slot and its tokens as well`,
      { tokens: 40 },
    );
  },
};

const release: ConformanceCaseSpec = {
  name: 'release: frees the concurrency slot, not the window slot',
  async run(h) {
    const w = h.windowMs;
    const limits = `concurrency 1 with a window of 2 per ${w} ms`;
    const limiter = h.limiter({ concurrency: 1, requests: { limit: 2, windowMs: w } });
    const a = await h.startNow(limiter, 'the 1st start', limits);
    const second = h.track('the 2nd start', () => limiter.acquire());
    await h.waiting(second, `${limits}: the 1st lease is held`);
    await h.advanceTo(a.acquiredAt + w / 10);
    const releasedAt = h.now();
    a.release();
    const b: Lease = await h.admittedAt(second, releasedAt, `${limits}: releasing the 1st must let the 2nd start`);
    b.release();
    const third = h.track('the 3rd start', () => limiter.acquire());
    const end = h.startOf(a) + w;
    await h.waiting(third, `${limits}: released leases still count in the window`);
    await h.admittedAt(third, end, `${limits}: released leases still count in the window until ${h.fmt(end)}`);
  },
};

/** The cases of token budgets and what leases give back. */
export const BUDGET_CASES: readonly ConformanceCaseSpec[] = [reconcile, inputOutput, cancel, release];
