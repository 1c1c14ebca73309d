import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED, isSecretName, redactHeaders, redactString, redactValue } from '../src/internal/redact.js';

const KEY = 'sk-test-SECRET123';

function everywhere(value: unknown): string {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[cycle]';
      seen.add(v);
    }
    return v;
  });
  return `${json}\n${util.inspect(value, { depth: 10, showHidden: true })}`;
}

describe('redactString', () => {
  it('removes keys and credentials from free text', () => {
    expect(redactString(`Incorrect API key provided: ${KEY}.`)).toBe(`Incorrect API key provided: ${REDACTED}.`);
    expect(redactString('key sk-ant-api03-abcdefghijklmnop_QRST-uv')).toBe(`key ${REDACTED}`);
    expect(redactString('sk-proj-AbCdEf0123456789')).toBe(REDACTED);
    expect(redactString('Authorization: Bearer abc.def.ghi')).toBe(`Authorization: ${REDACTED}`);
    expect(redactString('sent Bearer eyJhbGciOi.x.y to host')).toBe(`sent Bearer ${REDACTED} to host`);
    expect(redactString('x-api-key: sk-ant-xyz123456789')).toBe(`x-api-key: ${REDACTED}`);
    expect(redactString('{"api-key":"0123456789abcdef0123456789abcdef"}')).toBe(`{"api-key":"${REDACTED}"}`);
    expect(
      redactString('GET https://x.googleapis.com/v1/models?key=AIzaSyA-1234567890abcdefghijklmnopqrstu&alt=sse'),
    ).toBe(`GET https://x.googleapis.com/v1/models?key=${REDACTED}&alt=sse`);
    expect(redactString('https://user:hunter2@example.com/x')).toBe(`https://${REDACTED}@example.com/x`);
  });

  it('leaves ordinary text alone, and is idempotent', () => {
    const plain =
      'Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000. Please try again in 1.54s. task-abcdefghij';
    expect(redactString(plain)).toBe(plain);
    const once = redactString(`authorization: Bearer ${KEY}`);
    expect(redactString(once)).toBe(once);
  });
});

describe('isSecretName and redactHeaders', () => {
  it('knows credential headers but keeps rate-limit headers', () => {
    for (const name of [
      'authorization',
      'Proxy-Authorization',
      'x-api-key',
      'api-key',
      'cookie',
      'set-cookie',
      'x-goog-api-key',
      'apiKey',
      'client_secret',
      'access_token',
    ]) {
      expect(isSecretName(name)).toBe(true);
    }
    for (const name of [
      'x-ratelimit-remaining-tokens',
      'anthropic-ratelimit-input-tokens-limit',
      'retry-after',
      'content-type',
      'x-request-id',
    ]) {
      expect(isSecretName(name)).toBe(false);
    }
  });

  it('redacts Headers, Maps and records, lower-casing names', () => {
    const headers = new Headers({
      Authorization: `Bearer ${KEY}`,
      'X-RateLimit-Remaining-Tokens': '10',
      'content-type': 'application/json',
    });
    expect(redactHeaders(headers)).toEqual({
      authorization: REDACTED,
      'x-ratelimit-remaining-tokens': '10',
      'content-type': 'application/json',
    });
    expect(redactHeaders({ 'X-Api-Key': KEY, accept: ['a', 'b'], skip: undefined })).toEqual({
      'x-api-key': REDACTED,
      accept: 'a, b',
    });
    expect(redactHeaders(new Map([['Cookie', 'session=1']]))).toEqual({ cookie: REDACTED });
  });
});

describe('redactValue', () => {
  it('returns the value itself when nothing is secret', () => {
    const err = Object.assign(new Error('429 Rate limit'), {
      status: 429,
      headers: new Headers({ 'retry-after': '1' }),
    });
    expect(redactValue(err)).toBe(err);
    const obj = { a: [1, 2, { b: 'c' }] };
    expect(redactValue(obj)).toBe(obj);
    expect(redactValue(42)).toBe(42);
  });

  it('copies an error holding a key, keeping its class and every field but the secret', () => {
    class AuthenticationError extends Error {
      readonly status = 401;
    }
    const err = new AuthenticationError(`401 Incorrect API key provided: ${KEY}`, { cause: new Error(`inner ${KEY}`) });
    const safe = redactValue(err);
    expect(safe).not.toBe(err);
    expect(safe).toBeInstanceOf(AuthenticationError);
    expect(safe.status).toBe(401);
    expect(safe.message).toBe(`401 Incorrect API key provided: ${REDACTED}`);
    expect(everywhere(safe)).not.toContain('SECRET123');
    expect(String(safe.stack)).not.toContain('SECRET123');
    // The original is untouched: it is the caller's object.
    expect(err.message).toContain(KEY);
  });

  it('redacts request options kept by HTTP client errors (axios-like), including symbol-keyed and cyclic parts', () => {
    const kOutHeaders = Symbol('kOutHeaders');
    class ClientRequest {
      _header = `POST /v1/chat HTTP/1.1\r\nAuthorization: Bearer ${KEY}\r\n`;
      [kOutHeaders] = { authorization: ['Authorization', `Bearer ${KEY}`] };
      self = this;
    }
    const config = {
      url: 'https://api.openai.com/v1/chat',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      timeout: 0,
    };
    const err = Object.assign(new Error('Request failed with status code 429'), {
      config,
      request: new ClientRequest(),
      response: { status: 429, headers: { 'retry-after': '2' }, config },
    });
    (err as unknown as { self: unknown }).self = err;
    const safe = redactValue(err);
    expect(everywhere(safe)).not.toContain('SECRET123');
    expect(safe.config.headers.Authorization).toBe(REDACTED);
    expect(safe.config.headers['Content-Type']).toBe('application/json');
    expect(safe.response.status).toBe(429);
    expect(safe.request).toBe(`[ClientRequest ${REDACTED}]`);
    expect((safe as unknown as { self: unknown }).self).toBe(safe);
  });

  it('redacts Headers, Responses and Requests', () => {
    const headers = new Headers({ 'x-api-key': KEY, 'retry-after': '1' });
    const safeHeaders = redactValue(headers);
    expect(safeHeaders.get('x-api-key')).toBe(REDACTED);
    expect(safeHeaders.get('retry-after')).toBe('1');

    const request = new Request(
      'https://generativelanguage.googleapis.com/v1/models?key=AIzaSyA-1234567890abcdefghijklmnopqrstu',
      {
        headers: { authorization: `Bearer ${KEY}` },
      },
    );
    const safeRequest = redactValue({ request }).request as unknown as { url: string; headers: Record<string, string> };
    expect(safeRequest.url).not.toContain('AIza');
    expect(safeRequest.headers.authorization).toBe(REDACTED);

    const response = new Response('{"error":"x"}', {
      status: 429,
      headers: { 'set-cookie': 'session=abc', 'retry-after': '1' },
    });
    const safeResponse = redactValue(response);
    expect(safeResponse).toBeInstanceOf(Response);
    expect(safeResponse.status).toBe(429);
    expect(safeResponse.headers.get('retry-after')).toBe('1');
    expect(safeResponse.headers.get('set-cookie')).toBe(REDACTED);
  });

  it('gives up safely on graphs too large to scan', () => {
    let deep: Record<string, unknown> = { leaf: KEY };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    const safe = redactValue(deep);
    expect(everywhere(safe)).not.toContain('SECRET123');
  });
});
