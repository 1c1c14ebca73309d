import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMockServer } from '../src/testing/index.js';
import { runCli, useServers, useTempDirs } from './fixtures/cli-process.js';

const KEY = 'sk-test-SECRET-spend';
const tempDir = useTempDirs();
const track = useServers();
// Per million tokens: with 20 output tokens a request and short prompts, about 0.00021 each.
const PRICES = JSON.stringify({ 'gpt-4o-mini': { input: 1, output: 10 } });

function writeRequests(path: string, count: number): void {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question ${i}` }], max_tokens: 20 },
    }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
}

function results(
  path: string,
): { custom_id: string; response?: { body?: { usage?: { prompt_tokens: number; completion_tokens: number } } } }[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** What the results written cost at PRICES. */
function costOf(path: string): number {
  return results(path).reduce((sum, r) => {
    const u = r.response?.body?.usage;
    return sum + (u === undefined ? 0 : (u.prompt_tokens * 1 + u.completion_tokens * 10) / 1e6);
  }, 0);
}

describe('forestall batch --max-spend', () => {
  it('stops starting requests once the budget is spent, writes what finished, says so, and resumes with a higher budget', async () => {
    const server = track(
      await startMockServer({ provider: 'openai', tokenizer: 'fast', outputTokensPerResponse: 20, latencyMs: 20 }),
    );
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    writeRequests(input, 40);
    const args = ['batch', input, '--out', out, '--base-url', server.url, '--fast-estimate', '--prices', PRICES];
    const first = await runCli([...args, '--max-spend', '0.002'], { OPENAI_API_KEY: KEY });
    expect(first.code, first.stderr).toBe(3);
    expect(first.stdout).toMatch(/stopped at the spend budget \(--max-spend 0\.002\) after \d+ of 40 requests/);
    const done = results(out).length;
    expect(done).toBeGreaterThan(3);
    expect(done).toBeLessThan(40);
    // Every request that started was written; what they cost stays within the budget.
    expect(server.stats().accepted).toBe(done);
    expect(costOf(out)).toBeLessThanOrEqual(0.002);
    const spendRow = /spend\s+(\S+) of 0\.002000/.exec(first.stdout);
    expect(Number(spendRow?.[1])).toBeCloseTo(costOf(out), 6);
    const second = await runCli([...args, '--max-spend', '1'], { OPENAI_API_KEY: KEY });
    expect(second.code, second.stderr).toBe(0);
    expect(
      results(out)
        .map((r) => r.custom_id)
        .sort(),
    ).toEqual(Array.from({ length: 40 }, (_, i) => `req-${i}`).sort());
    expect(server.stats().accepted).toBe(40);
    expect(`${first.stdout}${first.stderr}${second.stdout}${second.stderr}`).not.toContain(KEY);
  }, 60_000);

  it.each([
    [['--max-spend', '5'], /--max-spend needs --prices/],
    [['--prices', PRICES], /--prices is only used with --max-spend/],
    [['--max-spend', '0', '--prices', PRICES], /--max-spend must be a positive amount, got "0"/],
    [['--max-spend', '5', '--prices', '{"gpt-4o-mini":{"input":-1,"output":1}}'], /--prices: .*input/],
    [['--max-spend', '5', '--prices', '/no/such/prices.json'], /--prices must be JSON or a JSON file/],
  ])('%j is a usage error naming the flag, with nothing sent', async (flags, message) => {
    const server = track(await startMockServer({ provider: 'openai', tokenizer: 'fast' }));
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    writeRequests(input, 2);
    const run = await runCli(['batch', input, '--out', join(dir, 'out.jsonl'), '--base-url', server.url, ...flags], {
      OPENAI_API_KEY: KEY,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(server.stats().total).toBe(0);
  });
});
