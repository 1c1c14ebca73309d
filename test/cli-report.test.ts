import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReportRecorder, type ReportData } from '../src/cli/report-data.js';
import { renderReport } from '../src/cli/report-html.js';
import { COLOURS } from '../src/cli/report-svg.js';
import { LimiterRegistry } from '../src/registry/registry.js';
import { startMockServer, type MockServer, type MockServerOptions } from '../src/testing/index.js';
import { runCli, startCli, useServers, useTempDirs } from './fixtures/cli-process.js';
import { eventually } from './helpers/eventually.js';

const KEY = 'sk-test-SECRET-report';
/** Debian's package; CI installs it (.ci/run). */
const CHROMIUM = '/usr/bin/chromium';
const tempDir = useTempDirs();
const track = useServers();

async function start(options: Partial<MockServerOptions> = {}): Promise<MockServer> {
  const server = await startMockServer({
    provider: 'openai',
    latencyMs: { min: 10, max: 30 },
    tokenizer: 'fast',
    ...options,
  } as MockServerOptions);
  track(server);
  return server;
}

function writeRequests(path: string, count: number, model: (i: number) => string = () => 'gpt-4o-mini'): void {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: model(i), messages: [{ role: 'user', content: `Question ${i}` }], max_tokens: 20 },
    }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** The value of a summary row: `succeeded   30` gives `30`. */
function summaryValue(stdout: string, name: string): number {
  const match = new RegExp(`^  ${name}\\s+([\\d,]+)`, 'm').exec(stdout);
  if (match === null) throw new Error(`no "${name}" in the summary:\n${stdout}`);
  return Number((match[1] as string).replaceAll(',', ''));
}

/** The value of a row of the report's totals table. */
function reportTotal(html: string, name: string): number {
  const match = new RegExp(`data-total="${name}"><th scope="row">[^<]*</th><td class="n">([\\d,]+)</td>`).exec(html);
  if (match === null) throw new Error(`no "${name}" in the report's totals`);
  return Number((match[1] as string).replaceAll(',', ''));
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** Nothing the page would fetch: no URL, no external script, stylesheet, font or image. */
function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/https?:\/\//i);
  expect(html).not.toMatch(/<script[^>]*\bsrc\b/i);
  expect(html).not.toMatch(/<link\b/i);
  expect(html).not.toMatch(/@import|url\(/i);
  expect(html).not.toMatch(/<(img|iframe|object|embed)\b/i);
}

describe('forestall batch --report', () => {
  // One run shared by the checks of its contents and of its screenshot: a tight --rpm (5 a
  // second) against a server that allows 2 a second and counts strictly, so requests wait, some
  // are refused with a 429 and retried.
  let run: { code: number | null; stdout: string; stderr: string };
  let html: string;
  let report: string;
  let out: string;
  let server: MockServer;
  beforeAll(async () => {
    server = await startMockServer({
      provider: 'openai',
      requests: { limit: 2, windowMs: 1_000 },
      latencyMs: { min: 10, max: 30 },
      tokenizer: 'fast',
      countRejected: true,
      retryAfterMs: true,
    });
    const dir = tempDir();
    const input = join(dir, 'requests.jsonl');
    writeRequests(input, 24);
    out = join(dir, 'results.jsonl');
    report = join(dir, 'report.html');
    run = await runCli(
      ['batch', input, '--out', out, '--base-url', server.url, '--rpm', '300', '--tpm', '2000', '--no-sync'].concat([
        '--fast-estimate',
        '--report',
        report,
      ]),
      { OPENAI_API_KEY: KEY },
    );
    html = readFileSync(report, 'utf8');
    await server.close();
  }, 90_000);

  it("is one self-contained file whose totals are the summary's and the results'", () => {
    expect(run.code).toBe(0);
    expectSelfContained(html);
    expect(html).not.toContain(KEY);
    expect(html).toMatch(/<title>forestall batch: requests\.jsonl, \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/title>/);
    const results = readFileSync(out, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { response: { status_code: number } | null });
    expect(results).toHaveLength(24);
    expect(reportTotal(html, 'succeeded')).toBe(results.filter((r) => r.response?.status_code === 200).length);
    for (const name of ['succeeded', 'failed', 'retries', '429s', 'requests sent']) {
      expect(reportTotal(html, name === 'requests sent' ? 'HTTP requests sent' : name), name).toBe(
        summaryValue(run.stdout, name),
      );
    }
    const tokens = /tokens used\s+([\d,]+) \(([\d,]+) in, ([\d,]+) out\)/.exec(run.stdout);
    expect(reportTotal(html, 'input tokens')).toBe(Number(tokens?.[2]?.replaceAll(',', '')));
    expect(reportTotal(html, 'output tokens')).toBe(Number(tokens?.[3]?.replaceAll(',', '')));
    expect(reportTotal(html, 'input tokens')).toBeGreaterThan(0);
    expect(html).toMatch(/data-total="wall time"><th scope="row">wall time<\/th><td class="n">\d/);
    expect(html).toMatch(/data-total="time waiting for the limiter"><th scope="row">[^<]*<\/th><td class="n">\d/);
  });

  it('draws the limits as lines and marks every 429 and retry on the time axis', () => {
    const rateLimited = summaryValue(run.stdout, '429s');
    const retries = summaryValue(run.stdout, 'retries');
    expect(rateLimited).toBeGreaterThan(0);
    expect(rateLimited).toBe(server.stats().rejected429);
    expect(retries).toBeGreaterThan(0);
    expect(count(html, /class="mark mark-rate-limited"/g)).toBe(rateLimited);
    expect(count(html, /class="mark mark-retry"/g)).toBe(retries);
    // --rpm 300 is 300 a minute and 5 a second; --tpm 2000 a token budget per minute.
    expect(html).toContain('limit 5 per second');
    expect(html).toContain('limit 300 per minute');
    expect(html).toContain('limit 2,000 per minute');
    expect(count(html, /class="limit-line"/g)).toBeGreaterThanOrEqual(3);
    // Charts are SVG with a title, an aria-label and axis labels; the refused requests are shown.
    expect(count(html, /<svg [^>]*role="img"[^>]*aria-label="[^"]+"/g)).toBeGreaterThanOrEqual(3);
    expect(html).toMatch(/<svg id="timeline"[^>]*>\s*<title id="timeline-title">Requests started per second<\/title>/);
    expect(html).toContain('time since the start');
    expect(html).toContain('series series-refused');
    // Requests waited for the limiter: the wait histogram and the longest waits.
    expect(html).toContain('<svg id="waits"');
    expect(html).toContain('id="longest-waits"');
    // The limits table says how full each window got, never above its limit.
    for (const share of html.matchAll(/<td class="n">(\d+)%<\/td>/g)) expect(Number(share[1])).toBeLessThanOrEqual(100);
  });

  it.skipIf(!process.env.CI && !existsSync(CHROMIUM))(
    'renders a chart in headless Chromium (the screenshot has the bars and the limit lines)',
    async () => {
      expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
      const dir = tempDir();
      const shot = await screenshot(report, join(dir, 'report.png'), dir);
      expect(shot.bars.pixels, 'pixels of the bar colour').toBeGreaterThan(4_000);
      expect(shot.bars.right - shot.bars.left, 'width the bars span').toBeGreaterThan(500);
      expect(shot.limit.pixels, 'pixels of the limit-line colour').toBeGreaterThan(400);
      // The check can tell: the same page without its SVG has (almost) none of either colour.
      const bare = join(dir, 'bare.html');
      writeFileSync(bare, html.replace(/<svg[\s\S]*?<\/svg>/g, ''));
      const blank = await screenshot(bare, join(dir, 'bare.png'), dir);
      expect(blank.bars.pixels).toBeLessThan(200);
      expect(blank.limit.pixels).toBeLessThan(100);
    },
    120_000,
  );

  it('escapes hostile file, model and request names', async () => {
    const server = await start({ requests: { limit: 1_000, windowMs: 60_000 } });
    const dir = tempDir();
    const hostile = `evil <img src=x onerror=alert(1)> & "q" 'x'`;
    const input = join(dir, `${hostile}.jsonl`);
    const model = '<script>alert("model")</script>';
    writeRequests(input, 4, (i) => (i % 2 === 0 ? model : 'gpt-4o-mini'));
    const text = readFileSync(input, 'utf8').replace('"req-1"', '"<b>req-1</b>"');
    writeFileSync(input, text);
    const report = join(dir, 'report.html');
    const result = await runCli(
      ['batch', input, '--out', join(dir, 'out.jsonl'), '--base-url', server.url, '--rpm', '60', '--report', report],
      { OPENAI_API_KEY: KEY },
    );
    expect(result.code).toBe(0);
    const page = readFileSync(report, 'utf8');
    expectSelfContained(page);
    expect(page).not.toMatch(/<img|<b>|<script/i);
    expect(page).toContain('evil &#60;img src=x onerror=alert(1)&#62; &#38; &#34;q&#34; &#39;x&#39;.jsonl');
    expect(page).toContain('&#60;script&#62;alert(&#34;model&#34;)&#60;/script&#62;');
    expect(page).toContain('&#60;b&#62;req-1&#60;/b&#62;');
  }, 40_000);

  it('is written when Ctrl-C stops the run, marked interrupted', async () => {
    const server = await start({ latencyMs: { min: 40, max: 60 } });
    const dir = tempDir();
    const input = join(dir, 'requests.jsonl');
    writeRequests(input, 200);
    const out = join(dir, 'results.jsonl');
    const report = join(dir, 'report.html');
    const cli = startCli(['batch', input, '--out', out, '--base-url', server.url, '--rpm', '600', '--report', report], {
      OPENAI_API_KEY: KEY,
    });
    await eventually(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 10, { timeoutMs: 25_000 });
    cli.child.kill('SIGINT');
    const { code, stdout } = await cli.done;
    expect(code).toBe(130);
    const page = readFileSync(report, 'utf8');
    expect(page).toContain('interrupted (SIGINT)');
    expect(reportTotal(page, 'succeeded')).toBe(summaryValue(stdout, 'succeeded'));
    expect(reportTotal(page, 'not sent \\(stopped\\)')).toBeGreaterThan(0);
  }, 40_000);

  it.each([
    ['empty', () => ''],
    ['a directory', (dir: string) => dir],
    ['in a missing directory', (dir: string) => join(dir, 'nope', 'r.html')],
  ])('a --report that is %s fails at once with a usage error naming the flag', async (_, value) => {
    const server = await start();
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    const input = join(dir, 'requests.jsonl');
    writeRequests(input, 3);
    const result = await runCli(
      ['batch', input, '--out', join(dir, 'out.jsonl'), '--base-url', server.url, '--report', value(join(dir, 'sub'))],
      { OPENAI_API_KEY: KEY },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/forestall batch: --report expects the path of an HTML file/);
    expect(server.stats().total).toBe(0);
  });
});

describe('the report page', () => {
  it('counts 429s, retries and reconciled tokens per request, from the events in its own context', async () => {
    const registry = new LimiterRegistry({
      providers: { openai: { default: { requests: { limit: 100, windowMs: 1_000 } } } },
    });
    const recorder = new ReportRecorder();
    recorder.attach(registry);
    const origin = performance.now();
    const worker = recorder.wrap(async (request: { customId: string }) => {
      const limiter = registry.get('openai', 'm');
      const lease = await limiter.acquire({ tokens: { input: 10, output: 5 } });
      recorder.started();
      if (request.customId === 'a') {
        limiter.retrying({ attempt: 1, delayMs: 0, error: new Error('429'), reason: 'rate-limited' });
        limiter.rateLimited({ retryAfterMs: 0 });
      }
      lease.reconcile({ input: 7, output: 3 });
      lease.release();
      recorder.spent(0.25);
      return {
        record: { custom_id: request.customId, response: { status_code: 200, body: {} }, error: null },
        ok: true,
        usage: { input: 7, output: 3 },
      };
    });
    await Promise.all(['a', 'b'].map((customId) => worker({ customId, url: '/', body: { model: 'm' }, line: 1 }, {})));
    const summary = {
      input: 'x.jsonl',
      out: 'y',
      todo: 2,
      succeeded: 2,
      failed: 0,
      skipped: 0,
      badLines: 0,
      retries: 1,
    };
    const data = recorder.data(
      {
        ...summary,
        rateLimited: 1,
        sent: 3,
        inputTokens: 14,
        outputTokens: 6,
        elapsedMs: 10,
        allowedRequests: undefined,
        allowedTokens: undefined,
      },
      registry,
      'openai',
      origin,
    );
    await registry.close();
    const [a, b] = data.requests;
    expect(a).toMatchObject({ id: 'a', retries: 1, rateLimited: 1, limiter: 'm', status: 'succeeded', spend: 0.25 });
    expect(a?.reserved).toEqual({ input: 10, output: 5 });
    expect(a?.used).toEqual({ input: 7, output: 3 });
    expect(b).toMatchObject({ id: 'b', retries: 0, rateLimited: 0 });
    expect(data.admissions).toHaveLength(2);
    expect(data.marks.map((m) => m.kind).sort()).toEqual(['rate-limited', 'retry']);
    expect(data.totals.spend).toBe(0.5);
    expect(data.windows).toEqual([{ limiter: 'm', kind: 'requests', limit: 100, windowMs: 1_000 }]);
  });

  it('shows spend and the budget when the run has spend figures', () => {
    const data: ReportData = {
      input: 'spend.jsonl',
      provider: 'openai',
      createdAt: '2025-06-01T14:03:00.000Z',
      interrupted: undefined,
      totals: {
        todo: 2,
        succeeded: 2,
        failed: 0,
        skipped: 0,
        badLines: 0,
        sent: 2,
        rateLimited: 0,
        retries: 0,
        inputTokens: 20,
        outputTokens: 10,
        waitMs: 0,
        elapsedMs: 2_000,
        abandoned: 0,
        spend: 1.5,
      },
      requests: [0, 1].map((i) => ({
        id: `r${i}`,
        model: 'm',
        limiter: 'm',
        queuedAt: i * 900,
        startedAt: i * 900,
        endedAt: i * 900 + 50,
        waitMs: 0,
        reserved: undefined,
        used: { input: 10, output: 5 },
        status: 'succeeded' as const,
        httpStatus: 200,
        errorCode: undefined,
        retries: 0,
        rateLimited: 0,
        spend: 0.75,
      })),
      admissions: [0, 900].map((at) => ({ at, limiter: 'm', waitedMs: 0, input: 10, output: 5 })),
      marks: [],
      pauses: [],
      windows: [],
      spendLimit: 2,
      spendUnit: 'USD',
    };
    const page = renderReport(data);
    expectSelfContained(page);
    expect(page).toContain('<svg id="spend"');
    expect(page).toContain('budget 2.00 USD');
    expect(page).toMatch(/data-total="spend"><th scope="row">spend<\/th><td class="n">1.50 USD<\/td>/);
    expect(page).toContain('<title>forestall batch: spend.jsonl, 2025-06-01 14:03 UTC</title>');
    expect(
      renderReport({ ...data, totals: { ...data.totals, spend: undefined }, requests: [], spendLimit: undefined }),
    ).not.toContain('id="spend"');
  });
});

interface ColourCount {
  pixels: number;
  left: number;
  right: number;
}

/** Opens `html` in headless Chromium and counts the pixels of the bar and limit-line colours. */
async function screenshot(html: string, png: string, dir: string): Promise<{ bars: ColourCount; limit: ColourCount }> {
  await new Promise<void>((resolve, reject) => {
    execFile(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        `--user-data-dir=${join(dir, `profile-${Date.now()}`)}`,
        `--screenshot=${png}`,
        '--window-size=1200,900',
        pathToFileURL(html).href,
      ],
      { timeout: 60_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()),
    );
  });
  const image = PNG.sync.read(readFileSync(png));
  const counter = (hex: string): ((r: number, g: number, b: number, x: number) => void) & { result: ColourCount } => {
    const [cr, cg, cb] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
    const result: ColourCount = { pixels: 0, left: Number.POSITIVE_INFINITY, right: -1 };
    const add = (r: number, g: number, b: number, x: number): void => {
      if (Math.abs(r - cr) > 24 || Math.abs(g - cg) > 24 || Math.abs(b - cb) > 24) return;
      result.pixels++;
      result.left = Math.min(result.left, x);
      result.right = Math.max(result.right, x);
    };
    return Object.assign(add, { result });
  };
  const bars = counter(COLOURS.bars);
  const limit = counter(COLOURS.limit);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4;
      const [r, g, b] = [image.data[i] as number, image.data[i + 1] as number, image.data[i + 2] as number];
      bars(r, g, b, x);
      limit(r, g, b, x);
    }
  }
  return { bars: bars.result, limit: limit.result };
}
