import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRequestLine, pendingRequests, scanInput } from '../src/cli/batch-input.js';
import { authHeaders, headerSafe, joinUrl } from '../src/cli/endpoint.js';
import { formatDuration } from '../src/cli/format.js';
import { readLines } from '../src/cli/lines.js';
import { progressLine } from '../src/cli/progress.js';
import { ResultsWriter, scanResults } from '../src/cli/results-file.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-parts-'));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('joinUrl', () => {
  it.each([
    ['https://api.openai.com/v1', '/v1/chat/completions', 'https://api.openai.com/v1/chat/completions'],
    ['https://api.openai.com/v1/', '/v1/chat/completions', 'https://api.openai.com/v1/chat/completions'],
    ['https://api.openai.com/v1', '/chat/completions', 'https://api.openai.com/v1/chat/completions'],
    ['https://api.anthropic.com', '/v1/messages', 'https://api.anthropic.com/v1/messages'],
    ['https://api.groq.com/openai/v1', '/v1/chat/completions', 'https://api.groq.com/openai/v1/chat/completions'],
    ['http://127.0.0.1:8080/v1', '/v1/embeddings', 'http://127.0.0.1:8080/v1/embeddings'],
    [
      'https://x.openai.azure.com/openai/deployments/gpt?api-version=2024-10-21',
      '/chat/completions?foo=1',
      'https://x.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21&foo=1',
    ],
  ])('%s + %s', (base, path, expected) => {
    expect(joinUrl(base, path)).toBe(expected);
  });

  it('puts the key in each provider’s header', () => {
    expect(authHeaders('openai', 'k')).toEqual({ authorization: 'Bearer k' });
    expect(authHeaders('anthropic', 'k')).toEqual({ 'x-api-key': 'k', 'anthropic-version': '2023-06-01' });
    expect(authHeaders('azure', 'k')).toEqual({ 'api-key': 'k' });
    expect(headerSafe('plain-id_1')).toBe('plain-id_1');
    expect(headerSafe('café')).toBe('caf%C3%A9');
  });
});

describe('batch input lines', () => {
  it('accepts the OpenAI Batch shape and names what is wrong otherwise', () => {
    const ok = parseRequestLine(
      '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}',
      1,
    );
    expect(ok).toEqual({
      kind: 'request',
      request: { customId: 'a', url: '/v1/chat/completions', body: { model: 'm' }, line: 1 },
    });
    expect(parseRequestLine('   ', 2)).toEqual({ kind: 'blank' });
    const reason = (text: string): string => {
      const parsed = parseRequestLine(text, 3);
      return parsed.kind === 'bad' ? parsed.reason : 'accepted';
    };
    expect(reason('{"custom_id":')).toMatch(/^not valid JSON/);
    expect(reason('[1]')).toBe('not a JSON object');
    expect(reason('{"url":"/v1/x","body":{}}')).toMatch(/no "custom_id"/);
    expect(reason('{"custom_id":"a","url":"/v1/x"}')).toBe('no "body" object');
    expect(reason('{"custom_id":"a","url":"/v1/x","body":"text"}')).toBe('no "body" object');
    expect(reason('{"custom_id":"a","method":"GET","url":"/v1/x","body":{}}')).toMatch(/"method" must be "POST"/);
    // A full URL could send the key elsewhere.
    expect(reason('{"custom_id":"a","url":"https://evil.example/v1/x","body":{}}')).toMatch(/no "url" path/);
    expect(reason('{"custom_id":"a","url":"//evil.example/v1/x","body":{}}')).toMatch(/no "url" path/);
  });

  it('scans once for bad lines and repeats, then yields only what is left to do', async () => {
    const line = (id: string): string =>
      JSON.stringify({ custom_id: id, url: '/v1/chat/completions', body: { model: 'gpt-4o' } });
    const path = tempFile('in.jsonl', [line('a'), 'oops', '', line('b'), line('a'), line('c')].join('\r\n'));
    const scan = await scanInput(path);
    expect([...scan.ids]).toEqual([
      ['a', 1],
      ['b', 4],
      ['c', 6],
    ]);
    expect(scan.bad).toEqual([
      { line: 2, reason: expect.stringMatching(/^not valid JSON/) as unknown as string },
      { line: 5, reason: '"custom_id" "a" repeats line 1' },
    ]);
    expect(scan.firstModel).toBe('gpt-4o');
    const pending: string[] = [];
    for await (const request of pendingRequests(path, scan.ids, new Set(['b'])))
      pending.push(`${request.customId}@${request.line}`);
    expect(pending).toEqual(['a@1', 'c@6']);
  });
});

describe('files', () => {
  it('reads lines with byte offsets, CRLF and a last line without newline', async () => {
    const path = tempFile('lines.txt', 'é1\r\n\nthree');
    const lines = [];
    for await (const line of readLines(path)) lines.push(line);
    expect(lines).toEqual([
      { text: 'é1', number: 1, start: 0, end: 5, terminated: true },
      { text: '', number: 2, start: 5, end: 6, terminated: true },
      { text: 'three', number: 3, start: 6, end: 11, terminated: false },
    ]);
  });

  it('resume: cuts a damaged tail off the results, keeps the rest, and ignores damage in the middle', async () => {
    const good = (id: string, status = 200): string =>
      JSON.stringify({ custom_id: id, response: { status_code: status, body: {} }, error: null });
    const path = tempFile(
      'out.jsonl',
      `${good('a')}\nnot json\n${good('b', 500)}\n${good('c')}\n{"custom_id":"d","resp`,
    );
    const scan = await scanResults(path, { retryFailed: false });
    expect([...scan.done]).toEqual(['a', 'b', 'c']);
    expect(scan.damaged).toEqual([2]);
    expect(scan.truncatedBytes).toBe('{"custom_id":"d","resp'.length);
    expect(readFileSync(path, 'utf8').endsWith(`${good('c')}\n`)).toBe(true);

    // A whole line of JSON that lost its newline is incomplete too.
    writeFileSync(path, `${good('a')}\n${good('e')}`);
    expect([...(await scanResults(path, { retryFailed: false })).done]).toEqual(['a']);
    expect(readFileSync(path, 'utf8')).toBe(`${good('a')}\n`);

    // With retryFailed, failures leave the file and are redone.
    writeFileSync(
      path,
      `${good('a')}\n${good('b', 429)}\n${JSON.stringify({ custom_id: 'c', response: null, error: { code: 'x', message: 'y' } })}\n`,
    );
    const retry = await scanResults(path, { retryFailed: true });
    expect([...retry.done]).toEqual(['a']);
    expect(retry.dropped).toBe(2);
    expect(readFileSync(path, 'utf8')).toBe(`${good('a')}\n`);

    const writer = new ResultsWriter(path);
    writer.write({ custom_id: 'z', response: null, error: { code: 'timeout', message: 'slow' } });
    writer.close();
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3);
  });
});

describe('progress and summary text', () => {
  it('draws the bar and the counts', () => {
    const view = {
      done: 250,
      total: 500,
      failed: 1,
      inFlight: 8,
      ratePerSecond: 41.25,
      etaMs: 6_060,
      rateLimited: 2,
      retries: 3,
    };
    expect(progressLine(view, true)).toBe(
      `[${'█'.repeat(12)}${'░'.repeat(12)}]  250/500  50%  41.3/s  ETA 6.1 s  in flight 8  failed 1  429s 2  retries 3`,
    );
    expect(progressLine({ ...view, total: undefined, etaMs: undefined }, false)).toBe(
      '250 done  41.3/s  in flight 8  failed 1  429s 2  retries 3',
    );
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(7_620_000)).toBe('2h 07m');
  });
});
