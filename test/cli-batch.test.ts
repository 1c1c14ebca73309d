import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMockServer, type MockServer, type MockServerOptions } from '../src/testing/index.js';
import { runCli, startCli, useServers, useTempDirs } from './fixtures/cli-process.js';
import { eventually } from './helpers/eventually.js';

const KEY = 'sk-test-SECRET';
const tempDir = useTempDirs();
const track = useServers();

async function start(options: Partial<MockServerOptions> = {}): Promise<MockServer> {
  const server = await startMockServer({
    provider: 'openai',
    // Per-minute limits, as OpenAI announces them: the CLI learns these from the headers.
    requests: { limit: 3_000, windowMs: 60_000 },
    tokens: { limit: 5_000_000, windowMs: 60_000 },
    latencyMs: { min: 10, max: 30 },
    tokenizer: 'fast',
    ...options,
  } as MockServerOptions);
  track(server);
  return server;
}

const id = (i: number): string => `req-${String(i).padStart(4, '0')}`;

/** 500 lines: line 10 is not JSON, line 100 has no custom_id, line 200 repeats line 5's custom_id. */
function writeRequests(dir: string, count = 500): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question ${i}` }], max_tokens: 20 };
    if (i === 9) lines.push('{"custom_id": "req-0009", "method": "POST"');
    else if (i === 99) lines.push(JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body }));
    else if (i === 199)
      lines.push(JSON.stringify({ custom_id: id(4), method: 'POST', url: '/v1/chat/completions', body }));
    else lines.push(JSON.stringify({ custom_id: id(i), method: 'POST', url: '/v1/chat/completions', body }));
  }
  const path = join(dir, 'requests.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function goodIds(count = 500): string[] {
  return Array.from({ length: count }, (_, i) => i)
    .filter((i) => i !== 9 && i !== 99 && i !== 199)
    .map(id);
}

/** The whole result lines of the output file, parsed. */
function readResults(
  path: string,
): { custom_id: string; response: { status_code: number; body: unknown } | null; error: unknown }[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return whole
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as never);
}

function countLines(path: string): number {
  if (!existsSync(path)) return 0;
  let n = 0;
  for (const byte of readFileSync(path)) if (byte === 0x0a) n++;
  return n;
}

describe('forestall batch', () => {
  it('killed with SIGKILL half-way and resumed: exactly one result per good line, finished work never sent again', async () => {
    const server = await start();
    const dir = tempDir();
    const input = writeRequests(dir);
    const out = join(dir, 'results.jsonl');
    const args = ['batch', input, '--out', out, '--base-url', server.url, '--api-key', KEY, '--concurrency', '4'];

    const first = startCli(args);
    await eventually(() => countLines(out) >= 250, { timeoutMs: 25_000 });
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const written = new Set(readResults(out).map((r) => r.custom_id));
    expect(written.size).toBeGreaterThanOrEqual(250);
    expect(written.size).toBeLessThan(497);
    // Requests in flight at the kill may still reach the server; let them land before drawing the line.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const seenInFirstRun = server.stats().requestsSeen.length;

    // As if the kill had struck mid-write: half a line, no newline. It must be cut off and redone.
    const cut = goodIds().find((i) => !written.has(i)) as string;
    appendFileSync(out, `{"custom_id":"${cut}","response":{"status_co`);

    const second = await runCli(args);
    expect(second.code).toBe(1); // the bad lines
    expect(second.stderr).toContain('removed an incomplete last line');
    for (const line of [10, 100, 200]) expect(second.stderr).toMatch(new RegExp(`requests\\.jsonl:${line}: skipped`));
    expect(second.stderr).toMatch(/:200: skipped: "custom_id" "req-0004" repeats line 5/);

    const results = readResults(out);
    expect(readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
    expect(results).toHaveLength(497);
    expect(new Set(results.map((r) => r.custom_id))).toEqual(new Set(goodIds()));
    expect(results.every((r) => r.response?.status_code === 200 && r.error === null)).toBe(true);

    const stats = server.stats();
    const resent = stats.requestsSeen.slice(seenInFirstRun).map((r) => r.id);
    // Nothing whose result was on disk went out again...
    expect(resent.filter((i) => i !== undefined && written.has(i))).toEqual([]);
    // ...and the second run sent exactly the rest, each once.
    expect(new Set(resent)).toEqual(new Set(goodIds().filter((i) => !written.has(i))));
    expect(resent).toHaveLength(new Set(resent).size);
    // The only ids answered twice are requests in flight at the kill, whose results were lost with it.
    for (const duplicate of stats.duplicates) expect(written.has(duplicate)).toBe(false);
    expect(stats.rejected429).toBe(0);

    expect(second.stdout).toMatch(/succeeded\s+(\d+)/);
    expect(Number(/succeeded\s+(\d+)/.exec(second.stdout)?.[1])).toBe(497 - written.size);
    expect(second.stdout).toMatch(new RegExp(`already done\\s+${written.size} `));
    for (const text of [killed.stdout, killed.stderr, second.stdout, second.stderr, readFileSync(out, 'utf8')]) {
      expect(text).not.toContain(KEY);
    }

    // A third run finds nothing to do.
    const third = await runCli(args);
    expect(third.stdout).toMatch(/0 of 0 requests done/);
    expect(readResults(out)).toHaveLength(497);
  }, 60_000);

  it('Ctrl-C stops admitting, writes the requests in flight, prints the summary and exits 130', async () => {
    const server = await start({ latencyMs: { min: 40, max: 60 } });
    const dir = tempDir();
    const input = writeRequests(dir, 200);
    const out = join(dir, 'results.jsonl');
    const run = startCli(['batch', input, '--out', out, '--base-url', server.url, '--concurrency', '6'], {
      OPENAI_API_KEY: KEY,
    });
    await eventually(() => countLines(out) >= 20, { timeoutMs: 25_000 });
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    expect(code).toBe(130);
    expect(stderr).toMatch(/Ctrl-C: starting no more requests/);
    expect(stdout).toMatch(/forestall batch: interrupted \(SIGINT\) after \d+ of 197 requests/);
    expect(stdout).toMatch(/succeeded\s+\d+/);
    const results = readResults(out);
    expect(readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
    expect(results.length).toBeLessThan(197);
    // Every request the server answered was written: in-flight ones were waited for, not dropped.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answered = server
      .stats()
      .requestsSeen.filter((r) => r.status === 200)
      .map((r) => r.id);
    expect(new Set(results.map((r) => r.custom_id))).toEqual(new Set(answered));
    expect(stdout + stderr).not.toContain(KEY);
  }, 40_000);

  it('Ctrl-C with a queue in the limiter: nothing leaves after the signal, and the queued are not written', async () => {
    const server = await start({ latencyMs: { min: 150, max: 200 } });
    const dir = tempDir();
    const input = writeRequests(dir, 200);
    const out = join(dir, 'results.jsonl');
    // 64 workers, 10 requests a second: most of them wait in the limiter.
    const run = startCli(
      ['batch', input, '--out', out, '--base-url', server.url, '--concurrency', '64', '--rpm', '600'],
      { OPENAI_API_KEY: KEY },
    );
    await eventually(() => countLines(out) >= 5, { timeoutMs: 25_000 });
    run.child.kill('SIGINT');
    const arrivedBefore = server.stats().total;
    const { code, stderr } = await run.done;
    expect(code).toBe(130);
    // In flight means sent: a handful at 10 a second and 0.2 s each, not the 64 workers.
    const waited = Number(/waiting for the (\d+) in flight/.exec(stderr)?.[1]);
    expect(waited).toBeLessThanOrEqual(8);
    // At most one still on its way when the signal came; none admitted after it.
    expect(server.stats().total - arrivedBefore).toBeLessThanOrEqual(1);
    const answered = server
      .stats()
      .requestsSeen.filter((r) => r.status === 200)
      .map((r) => r.id);
    expect(new Set(readResults(out).map((r) => r.custom_id))).toEqual(new Set(answered));
    // A resumed run sends the rest (exit 1: the input's three bad lines).
    const rest = await runCli(['batch', input, '--out', out, '--base-url', server.url, '--concurrency', '64'], {
      OPENAI_API_KEY: KEY,
    });
    expect(rest.code).toBe(1);
    expect(rest.stdout).toMatch(/failed\s+0\n/);
    expect(readResults(out)).toHaveLength(197);
  }, 60_000);

  it('a second Ctrl-C quits at once, keeping what was written', async () => {
    // Slow answers: the first Ctrl-C would wait about 3 s for those in flight.
    const server = await start({ latencyMs: 3_000 });
    const dir = tempDir();
    const input = writeRequests(dir, 20);
    const out = join(dir, 'results.jsonl');
    const run = startCli(['batch', input, '--out', out, '--base-url', server.url, '--concurrency', '4'], {
      OPENAI_API_KEY: KEY,
    });
    await eventually(() => server.stats().requestsSeen.length >= 4, { timeoutMs: 25_000 });
    run.child.kill('SIGINT');
    await eventually(() => run.stderr().includes('Ctrl-C again'), { timeoutMs: 5_000 });
    const second = performance.now();
    run.child.kill('SIGINT');
    const { code, stdout } = await run.done;
    expect(code).toBe(130);
    expect(performance.now() - second).toBeLessThan(1_500);
    expect(stdout).toMatch(/interrupted \(SIGINT\)/);
    const abandoned = Number(/abandoned\s+(\d+) in flight \(sent again on resume\)/.exec(stdout)?.[1]);
    expect(abandoned).toBeGreaterThanOrEqual(1);
    expect(abandoned + readResults(out).length).toBe(server.stats().total);
  }, 40_000);
});
