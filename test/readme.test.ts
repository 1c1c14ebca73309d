import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type MockServer } from '../src/testing/index.js';
import { describeWithRedis, startRedisServer, type RedisServer } from './helpers/redis-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const built = existsSync(join(root, 'dist/index.js'));

/** The first ```ts block under a heading (`## Quick start`, `### OpenAI (...)`). */
function codeUnder(heading: string): string {
  const start = readme.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`README has no heading "${heading}"`);
  const match = readme.slice(start).match(/```ts\n([\s\S]*?)```/);
  if (!match?.[1]) throw new Error(`README has no ts block under "${heading}"`);
  return match[1];
}

const dirs: string[] = [];
let openaiServer: MockServer;
let anthropicServer: MockServer;
beforeAll(async () => {
  openaiServer = await startMockServer({
    provider: 'openai',
    requests: { limit: 500, windowMs: 60_000 },
    tokens: { limit: 200_000, windowMs: 60_000 },
  });
  anthropicServer = await startMockServer({ provider: 'anthropic', requests: { limit: 50, windowMs: 60_000 } });
});
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await Promise.all([openaiServer.close(), anthropicServer.close()]);
});

/**
 * Runs a README snippet as a user would, in a folder of its own where `forestall` (and the SDKs the
 * snippet imports) resolve to installed packages, and the SDKs read the provider URL and key from
 * their usual environment variables, pointed at mock servers.
 */
async function runSnippet(
  code: string,
  env: Record<string, string> = {},
): Promise<{ status: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-readme-'));
  dirs.push(dir);
  for (const name of [
    'forestall',
    'openai',
    '@anthropic-ai/sdk',
    'ai',
    '@ai-sdk/openai',
    'redis',
    '@opentelemetry/api',
  ]) {
    const link = join(dir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(name === 'forestall' ? root : join(root, 'node_modules', name), link, 'dir');
  }
  writeFileSync(join(dir, 'snippet.mts'), code);
  // Not spawnSync: the mock servers answer from this process's event loop.
  const child = spawn(
    process.execPath,
    ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), 'snippet.mts'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        OPENAI_BASE_URL: openaiServer.url,
        OPENAI_API_KEY: 'sk-test-readme',
        ANTHROPIC_BASE_URL: anthropicServer.url,
        ANTHROPIC_API_KEY: 'sk-ant-test-readme',
        ...env,
      },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill(), 30_000);
  const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  return { status, out };
}

describe.skipIf(!built)('README snippets work as pasted', () => {
  it('the quick start', async () => {
    const { status, out } = await runSnippet(codeUnder('## Quick start'));
    expect(out).toMatch(/45 answers in \d+ ms/);
    expect(out).toContain('used: 31500');
    expect(status).toBe(0);
  });

  it('the runBatch example: results in order, failures as values', async () => {
    const { status, out } = await runSnippet(codeUnder('## Batches in code'));
    expect(out).toContain("{ ok: true, value: 'DOCUMENT 0' }");
    expect(out).toContain('6 failed');
    expect(out).toMatch(/60\/60 done, 6 failed/);
    expect(status).toBe(0);
  });

  it('the openai recipe: answers, and learns the limits from the headers', async () => {
    const { status, out } = await runSnippet(codeUnder('### OpenAI'));
    expect(out).toContain('Say hello');
    expect(out).toContain('limit: 500');
    expect(out).toContain('limit: 200000');
    expect(status).toBe(0);
  });

  it('the anthropic recipe: answers through a per-model limiter', async () => {
    const { status, out } = await runSnippet(codeUnder('### Anthropic'));
    expect(out).toContain("type: 'text'");
    expect(out).toMatch(/limit: 30000, windowMs: 60000, used: \d+/);
    expect(status).toBe(0);
  });

  it('the Vercel AI SDK recipe: generateText and streamText', async () => {
    const { status, out } = await runSnippet(codeUnder('### Vercel AI SDK'));
    expect(out.length).toBeGreaterThan(10);
    expect(status).toBe(0);
  });

  it('token counting prints what its comments say', async () => {
    const { status, out } = await runSnippet(codeUnder('## Token counting and usage'));
    expect(out.trim().split('\n')).toEqual(['4', '9', '{ input: 8, output: 400 }', '{ input: 9, output: 12 }']);
    expect(status).toBe(0);
  });

  it('acquireAny across two providers: the preferred while it has room, then the other', async () => {
    const { status, out } = await runSnippet(codeUnder('## When a model is full'));
    expect(out).toContain("[ 'openai', 'openai', 'anthropic', 'anthropic' ]");
    expect(out).toContain('2 2');
    expect(status).toBe(0);
  });

  it('model fallback in the fetch: gpt-4o while it has room, then gpt-4o-mini', async () => {
    const { status, out } = await runSnippet(codeUnder('### Model fallback in the fetch'));
    expect(out).toContain("[ 'gpt-4o', 'gpt-4o', 'gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini' ]");
    expect(out).toContain('gpt-4o -> gpt-4o-mini (wait)');
    expect(status).toBe(0);
  });

  it("adaptive concurrency finds an overloaded server's capacity", async () => {
    const { status, out } = await runSnippet(codeUnder('### Adaptive concurrency'));
    const match = out.match(/cap (\d+), (\d+) overloaded of (\d+)/);
    expect(match, out).not.toBeNull();
    const [cap, overloaded, total] = (match as RegExpMatchArray).slice(1).map(Number) as [number, number, number];
    expect(cap).toBeGreaterThanOrEqual(5);
    expect(cap).toBeLessThanOrEqual(10);
    expect(overloaded / total).toBeLessThanOrEqual(0.1);
    expect(out).toMatch(/\d+ per second/);
    expect(status).toBe(0);
  });

  it('diagnose() names what holds the head of the queue back', async () => {
    const { status, out } = await runSnippet(codeUnder('### What a caller waits on'));
    expect(out).toContain("1 [ 'requests 2/2', 'tokens 900/1000' ]");
    expect(status).toBe(0);
  });

  it('forestall/otel on a registry, with the no-op meter', async () => {
    const { status, out } = await runSnippet(codeUnder('### Metrics: `forestall/otel`'));
    expect(out.trim()).toBe('1');
    expect(status).toBe(0);
  });

  it('a spend budget through the fetch: the real cost reconciled, a request that can never fit refused', async () => {
    const { status, out } = await runSnippet(codeUnder('## Spend budgets'));
    expect(out.trim().split('\n')).toEqual(['true', 'CapacityError']);
    expect(status).toBe(0);
  });

  it('the mock server snippet', async () => {
    const { status, out } = await runSnippet(codeUnder('## Testing against a mock provider'));
    expect(out).toContain('accepted: 1');
    expect(status).toBe(0);
  });
});

describeWithRedis('README Redis snippet', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis.stop());

  it.skipIf(!built)('works as pasted against a real redis-server', async () => {
    const { status, out } = await runSnippet(codeUnder('## Sharing limits across processes'), {
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    });
    expect(out).toContain('limit: 500, windowMs: 60000, used: 1, remaining: 499');
    expect(status).toBe(0);
  });
});
