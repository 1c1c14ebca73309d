import http from 'node:http';
import type { AddressInfo } from 'node:net';
import util from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exactSecrets, redactString, redactValue } from '../src/internal/redact.js';
import { Limiter, RetryError, type RetryEvent, createLimitedFetch, retry } from '../src/index.js';

// An OpenAI-style key (patterns find it) and a gateway key no pattern knows (only its exact value can be found).
const KEY = 'sk-proj-ECHOEDkey0123456789';
const GATEWAY_KEY = 'gw.7f3a9c1e5b2d4f60aa';
const SECRETS = [KEY, GATEWAY_KEY, 'ECHOEDkey0123456789', '7f3a9c1e5b2d4f60aa'];

/**
 * A gateway that echoes what it got in its error answers: the `Authorization` and `x-api-key`
 * headers and the body, in the JSON body, in a response header and in the status text.
 */
let server: http.Server;
let url: string;
let statuses: number[] = [];
let served = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = statuses[Math.min(served++, statuses.length - 1)] ?? 500;
      const auth = req.headers.authorization ?? '';
      const apiKey = String(req.headers['x-api-key'] ?? '');
      const body = JSON.stringify({
        error: {
          message: `upstream failed for ${auth} (key ${apiKey})`,
          echo: { authorization: auth, apiKey, body: Buffer.concat(chunks).toString('utf8') },
        },
      });
      res.writeHead(status, `Failed for ${apiKey}`, {
        'content-type': 'application/json',
        'x-echo': `${auth} ${apiKey}`,
        ...(status === 429 && { 'retry-after-ms': '5' }),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  served = 0;
});

const requestBody = JSON.stringify({
  model: 'gpt-4o-mini',
  max_tokens: 5,
  messages: [{ role: 'user', content: 'hi' }],
});

/** Everything a log line or a debugger could show of `value`. */
function shown(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? '';
  } catch {
    json = '';
  }
  return `${String(value)}\n${json}\n${util.inspect(value, { depth: 5 })}`;
}

/** Every header of a Response, as pairs. */
function headerPairs(headers: Headers): [string, string][] {
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => {
    pairs.push([name, value]);
  });
  return pairs;
}

/** The kept Responses' status, headers and body text, and everything shown of them. */
async function contents(values: readonly unknown[]): Promise<string> {
  const parts: string[] = [];
  for (const value of values) {
    parts.push(shown(value));
    expect(value).toBeInstanceOf(Response);
    const response = value as Response;
    parts.push(response.statusText, JSON.stringify(headerPairs(response.headers)), await response.text());
  }
  return parts.join('\n');
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/Bearer sk-/);
}

describe('secrets echoed in error bodies are redacted from what retry keeps', () => {
  for (const order of [
    [500, 429],
    [429, 500],
  ]) {
    it(`createLimitedFetch: the retry event's error (answers ${order.join(', ')}) has a redacted body`, async () => {
      statuses = order;
      const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 } });
      const emitted: RetryEvent[] = [];
      const onRetry: RetryEvent[] = [];
      limiter.on('retry', (event) => emitted.push(event));
      const limited = createLimitedFetch({
        limiter,
        provider: 'openai',
        sync: false,
        estimate: { mode: 'fast' },
        retry: { maxAttempts: 2, baseDelayMs: 1, onRetry: (event) => void onRetry.push(event) },
      });
      const response = await limited(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'x-api-key': GATEWAY_KEY, 'content-type': 'application/json' },
        body: requestBody,
      });
      // The caller (the SDK) gets the real last answer, as a plain fetch would.
      expect(response.status).toBe(order[1]);
      await response.arrayBuffer();

      expect(emitted).toHaveLength(1);
      expect(onRetry).toHaveLength(1);
      expect(emitted[0]?.error).toBe(onRetry[0]?.error);
      const kept = emitted[0]?.error as Response;
      expect(kept.status).toBe(order[0]);
      const text = await contents([kept]);
      expectNoSecret(`${text}\n${shown(emitted[0])}`);
      // What is not secret is still there: the message, the echoed request body, the headers.
      expect(text).toContain('upstream failed for [REDACTED] (key [REDACTED])');
      expect(text).toContain('gpt-4o-mini');
      expect(kept.headers.get('content-type')).toBe('application/json');
    });
  }

  it('retry() directly: RetryError, cause, errors, events, String, JSON and inspect hold no key', async () => {
    statuses = [500, 429];
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 } });
    const emitted: RetryEvent[] = [];
    limiter.on('retry', (event) => emitted.push(event));
    const error = await retry(
      ({ signal }) =>
        fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}` },
          body: requestBody,
          signal,
        }),
      { maxAttempts: 2, baseDelayMs: 1, limiter },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    const err = error as RetryError;
    expect(err.reason).toBe('exhausted');
    expect(err.errors).toHaveLength(2);
    expect(err.cause).toBe(err.errors[1]);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.error).toBe(err.errors[0]);
    expectNoSecret(shown(err));
    expectNoSecret(shown(emitted[0]));
    const [first, last] = err.errors as [Response, Response];
    expect(first.status).toBe(500);
    expect(last.status).toBe(429);
    expect(last.headers.get('retry-after-ms')).toBe('5');
    const text = await contents([first, last]);
    expectNoSecret(text);
    expect(text).toContain('upstream failed for Bearer [REDACTED]');
    // The body is still JSON for whoever reads it.
    expect(JSON.parse(text.slice(text.lastIndexOf('{"error"')))).toMatchObject({
      error: { echo: { authorization: '[REDACTED]' } },
    });
  });

  it("retry() with a fetch returning an echoing Response: the cause's body is redacted, status and headers kept", async () => {
    const echo = () =>
      new Response(`{"error":{"message":"Incorrect API key provided: ${KEY}","authorization":"Bearer ${KEY}"}}`, {
        status: 401,
        statusText: 'Unauthorized',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req_1' },
      });
    const err = (await retry(echo, { maxAttempts: 2 }).catch((e: unknown) => e)) as RetryError;
    expect(err.reason).toBe('not-retryable');
    const cause = err.cause as Response;
    expect(cause.status).toBe(401);
    expect(cause.statusText).toBe('Unauthorized');
    expect(cause.headers.get('x-request-id')).toBe('req_1');
    await expect(cause.json()).resolves.toEqual({
      error: { message: 'Incorrect API key provided: [REDACTED]', authorization: '[REDACTED]' },
    });
    expectNoSecret(shown(err));
  });

  it("an HTTP client's error carrying a Response (ky) keeps a redacted copy of it", async () => {
    const kyLike = () =>
      Promise.reject(
        Object.assign(new Error('Request failed with status code 502'), {
          response: new Response(`bad gateway for Bearer ${KEY}`, { status: 502 }),
        }),
      );
    const err = (await retry(kyLike, { maxAttempts: 2, baseDelayMs: 1 }).catch((e: unknown) => e)) as RetryError;
    expect(err.reason).toBe('exhausted');
    for (const kept of err.errors) {
      const response = (kept as { response: Response }).response;
      expect(response).toBeInstanceOf(Response);
      expect(response.status).toBe(502);
      await expect(response.text()).resolves.toBe('bad gateway for Bearer [REDACTED]');
    }
  });

  it('a body longer than what is read is cut, and a key cut at the end is dropped too', async () => {
    const filler = 'x'.repeat(65_536 - 5);
    const long = () => new Response(`${filler}${KEY} and more`, { status: 400 });
    const err = (await retry(long).catch((e: unknown) => e)) as RetryError;
    const text = await (err.cause as Response).text();
    expect(text).not.toContain('sk-pr');
    expect(text.length).toBeLessThanOrEqual(65_536);
    expect(text.startsWith('xxxx')).toBe(true);
  });
});

describe('exact secret values', () => {
  it('are redacted with the forms a server echoes them in; values too short to be keys are left', () => {
    const secrets = exactSecrets([GATEWAY_KEY, 'a/b"c+d=e:f', 'abc', '']);
    expect(secrets).not.toContain('abc');
    expect(redactString(`key=${GATEWAY_KEY}`, secrets)).toBe('key=[REDACTED]');
    expect(redactString(JSON.stringify({ k: 'a/b"c+d=e:f' }), secrets)).toBe('{"k":"[REDACTED]"}');
    expect(redactString(`?k=${encodeURIComponent('a/b"c+d=e:f')}`, secrets)).toBe('?k=[REDACTED]');
    expect(redactString('abc is not a key', secrets)).toBe('abc is not a key');
  });

  it('reach into errors and Responses kept by redactValue', () => {
    const secrets = exactSecrets([GATEWAY_KEY]);
    const error = Object.assign(new Error(`gateway said ${GATEWAY_KEY}`), { detail: { seen: GATEWAY_KEY } });
    const safe = redactValue(error, { secrets });
    expect(safe).toBeInstanceOf(Error);
    expect(shown(safe)).not.toContain(GATEWAY_KEY);
    expect(safe.detail.seen).toBe('[REDACTED]');
    // Without the exact value, nothing in it looks like a key: it is kept as it is.
    expect(redactValue(error)).toBe(error);
  });
});
