import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMockServer } from '../src/testing/index.js';
import { runCli, useServers, useTempDirs } from './fixtures/cli-process.js';

const KEY = 'sk-test-SECRET';
const tempDir = useTempDirs();
const track = useServers();

describe('forestall command line', () => {
  it('--help lists every flag of batch, and the commands', async () => {
    const { code, stdout } = await runCli(['batch', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--out',
      '-o',
      '--provider',
      '--base-url',
      '--api-key',
      '--rpm',
      '--tpm',
      '--concurrency',
      '-c',
      '--max-attempts',
      '--timeout',
      '--retry-failed',
      '--report',
      '--max-spend',
      '--prices',
      '--quiet',
      '-q',
      '--help',
      '-h',
    ]) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toMatch(
      /Exit codes: 0 .* 1 .*\n2 usage error, 3 the --max-spend budget was spent .*\n130 interrupted/,
    );
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/batch <requests\.jsonl> --out <results\.jsonl>/);
    expect(main.stdout).toMatch(/demo/);
    const demo = await runCli(['demo', '--help']);
    expect(demo.stdout).toMatch(/--requests/);
    expect(demo.stdout).toMatch(/--rate/);
  });

  it('usage errors exit 2 with a message naming the flag, and never print the key', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '');
    const cases: [string[], RegExp][] = [
      [['batch', input], /--out <results\.jsonl> is required/],
      [
        ['batch', input, '--out', join(dir, 'o.jsonl'), '--api-key', KEY, '--rpm', 'lots'],
        /--rpm expects a whole number of at least 1, got "lots"/,
      ],
      [
        ['batch', input, '--out', join(dir, 'o.jsonl'), '--api-key', KEY, '--provider', 'acme'],
        /--provider must be one of openai, /,
      ],
      [['batch', input, '--out', join(dir, 'o.jsonl')], /no API key: set OPENAI_API_KEY, or pass --api-key/],
      [['batch', input, '--out', join(dir, 'o.jsonl'), '--api-key', KEY, '--bogus'], /Unknown option '--bogus'/],
      [
        ['batch', join(dir, 'missing.jsonl'), '--out', join(dir, 'o.jsonl'), '--api-key', KEY],
        /cannot read .*missing\.jsonl/,
      ],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runCli(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
      expect(stdout + stderr).not.toContain(KEY);
    }
    // A key of no known shape, pasted into the wrong flag: the message names the flag, not the key.
    const odd = 'plainkey7Hq2ZxW9Lm4';
    const out = join(dir, 'o.jsonl');
    const pasted: [string[], Record<string, string>][] = [
      [['batch', input, '--out', out, '--api-key', odd, '--rpm', odd], {}],
      [['batch', input, '--out', out, `--api-key=${odd}`, '--concurrency', odd], {}],
      [['batch', input, '--out', out, '--rpm', odd], { OPENAI_API_KEY: odd }],
      [['batch', input, '--out', out, '--provider', odd], { ANTHROPIC_API_KEY: odd }],
    ];
    for (const [args, env] of pasted) {
      const { code, stderr } = await runCli(args, env);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(/--(rpm|concurrency|provider)/);
      expect(stderr).not.toContain(odd);
      expect(stderr).toContain('[REDACTED]');
    }
  });

  it('talks to Anthropic with its headers, writes non-2xx answers as failures, and --retry-failed redoes them', async () => {
    const server = await startMockServer({
      provider: 'anthropic',
      requests: { limit: 1_000, windowMs: 60_000 },
      tokenizer: 'fast',
    });
    track(server);
    const dir = tempDir();
    const input = join(dir, 'requests.jsonl');
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        custom_id: `msg-${i}`,
        method: 'POST',
        url: '/v1/messages',
        // msg-3 lacks max_tokens: the server answers 400.
        body:
          i === 3
            ? { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }
            : { model: 'claude-sonnet-4-5', max_tokens: 30, messages: [{ role: 'user', content: `Hello ${i}` }] },
      }),
    );
    writeFileSync(input, `${lines.join('\n')}\n`);
    const out = join(dir, 'results.jsonl');
    const args = ['batch', input, '--out', out, '--provider', 'anthropic', '--base-url', server.url, '--quiet'];
    const first = await runCli(args, { ANTHROPIC_API_KEY: KEY });
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/succeeded\s+5\n/);
    expect(first.stdout).toMatch(/failed\s+1 /);
    expect(first.stdout).toMatch(/tokens used\s+[1-9]/);
    const results = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: { type?: string } } });
    expect(results).toHaveLength(6);
    const bad = results.find((r) => r.custom_id === 'msg-3');
    expect(bad?.response.status_code).toBe(400);
    expect(results.filter((r) => r.response.status_code === 200).every((r) => r.response.body.type === 'message')).toBe(
      true,
    );

    const again = await runCli([...args, '--retry-failed'], { ANTHROPIC_API_KEY: KEY });
    expect(again.stderr).toMatch(/removed 1 failed result/);
    expect(again.stdout).toMatch(/1 of 1 requests done/);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(6);
    const ids = server.stats().requestsSeen.map((r) => r.id);
    expect(ids.filter((i) => i === 'msg-3')).toHaveLength(2);
    expect(ids).toHaveLength(7);
    expect(first.stdout + first.stderr + again.stdout + again.stderr + readFileSync(out, 'utf8')).not.toContain(KEY);
  });

  it('a server that cannot be reached gives error lines, not a crash', async () => {
    const dir = tempDir();
    const input = join(dir, 'requests.jsonl');
    const line = (i: number): string =>
      JSON.stringify({
        custom_id: `r${i}`,
        url: '/v1/embeddings',
        body: { model: 'text-embedding-3-small', input: 'x' },
      });
    writeFileSync(input, `${[0, 1, 2].map(line).join('\n')}\n`);
    const out = join(dir, 'results.jsonl');
    // A port just freed: connections are refused at once.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const { code, stdout } = await runCli([
      'batch',
      input,
      '--out',
      out,
      '--base-url',
      `http://127.0.0.1:${port}/v1`,
      '--api-key',
      KEY,
      '--max-attempts',
      '1',
      '-q',
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/failed\s+3 /);
    const results = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { response: unknown; error: { code: string; message: string } });
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.response).toBeNull();
      expect(r.error.code).toBe('connection_error');
      expect(r.error.message).toMatch(/ECONNREFUSED/);
    }
  });
});
