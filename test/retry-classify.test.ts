import { describe, expect, it } from 'vitest';
import { AttemptTimeoutError } from '../src/core/attempt-timeout-error.js';
import { classifyFailure } from '../src/feedback/classify.js';
import { readErrorBody } from '../src/feedback/response-body.js';

/** An error shaped like an SDK's or an HTTP client's: status, headers, parsed body. */
function httpError(status: number, headers: Record<string, string> = {}, error?: unknown): Error {
  return Object.assign(new Error(`${status} status code`), { status, headers: new Headers(headers), error });
}

function errno(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyFailure: statuses', () => {
  it.each([
    [408, 'timeout'],
    [409, 'conflict'],
    [429, 'rate-limited'],
    [500, 'server-error'],
    [502, 'server-error'],
    [503, 'overloaded'],
    [504, 'server-error'],
    [522, 'server-error'],
    [529, 'overloaded'],
  ] as const)('retries %i (%s)', (status, reason) => {
    expect(classifyFailure(httpError(status))).toEqual({ retryable: true, reason, status });
  });

  it.each([400, 401, 403, 404, 422, 501])('never retries %i', (status) => {
    expect(classifyFailure(httpError(status))).toEqual({ retryable: false, reason: 'http-error', status });
  });

  it('reads statusCode, response.status, plain-record headers and response.data (axios, got)', () => {
    expect(classifyFailure({ statusCode: 503, headers: { 'Retry-After': '3' } })).toEqual({
      retryable: true,
      reason: 'overloaded',
      status: 503,
      retryAfterMs: 3_000,
    });
    const axiosLike = Object.assign(new Error('Request failed with status code 429'), {
      response: {
        status: 429,
        headers: { 'retry-after-ms': '250' },
        data: { error: { code: 'rate_limit_exceeded', message: 'slow down' } },
      },
    });
    expect(classifyFailure(axiosLike)).toEqual({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
      retryAfterMs: 250,
      code: 'rate_limit_exceeded',
    });
  });
});

describe('classifyFailure: server-named delays', () => {
  it('prefers headers, then Gemini RetryInfo, then the message', () => {
    const body = { error: { message: 'Please try again in 1.54s.', code: 'rate_limit_exceeded' } };
    expect(classifyFailure(httpError(429, { 'retry-after-ms': '400' }, body.error)).retryAfterMs).toBe(400);
    expect(classifyFailure(httpError(429, {}, body.error)).retryAfterMs).toBe(1_540);
    const gemini = {
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        message: 'Please retry in 9s.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3.5s' }],
      },
    };
    expect(classifyFailure(httpError(429, {}, gemini))).toEqual({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
      retryAfterMs: 3_500,
      code: 'RESOURCE_EXHAUSTED',
    });
  });

  it('measures an HTTP-date retry-after from `now`', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    const err = httpError(503, { 'retry-after': 'Sun, 01 Jun 2025 12:00:10 GMT' });
    expect(classifyFailure(err, { now }).retryAfterMs).toBe(10_000);
  });
});

describe('classifyFailure: never retried', () => {
  it('OpenAI insufficient_quota, in the SDK shape and in a raw body', () => {
    const inner = {
      message: 'You exceeded your current quota',
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    };
    expect(classifyFailure(httpError(429, {}, inner))).toMatchObject({
      retryable: false,
      reason: 'insufficient-quota',
      code: 'insufficient_quota',
    });
    expect(classifyFailure(new Response(null, { status: 429 }), { body: { error: inner } })).toMatchObject({
      retryable: false,
      reason: 'insufficient-quota',
    });
  });

  it('"Request too large" (a request over the whole per-minute budget)', () => {
    const inner = {
      message:
        'Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 50000.',
      code: 'rate_limit_exceeded',
    };
    expect(classifyFailure(httpError(429, { 'retry-after': '1' }, inner))).toMatchObject({
      retryable: false,
      reason: 'request-too-large',
    });
    const fromMessage = Object.assign(new Error('429 Request too large for gpt-4'), { status: 429 });
    expect(classifyFailure(fromMessage).reason).toBe('request-too-large');
  });

  it('Anthropic spend limits (error.details.error_code)', () => {
    const body = {
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: 'Spend limit reached',
        details: { error_code: 'enforced_spend_limit_reached' },
      },
    };
    expect(classifyFailure(httpError(429, {}, body))).toEqual({
      retryable: false,
      reason: 'spend-limit',
      status: 429,
      code: 'enforced_spend_limit_reached',
    });
    // The SDK also copies the code to `errorCode`.
    const sdkLike = Object.assign(httpError(429), { errorCode: 'contract_spend_limit_reached' });
    expect(classifyFailure(sdkLike).reason).toBe('spend-limit');
  });

  it('Gemini per-day quota, but not per-minute', () => {
    const body = (quotaId: string): unknown => ({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'x', quotaId }] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '20s' },
        ],
      },
    });
    expect(
      classifyFailure(httpError(429, {}, body('GenerateRequestsPerDayPerProjectPerModel-FreeTier'))),
    ).toMatchObject({
      retryable: false,
      reason: 'daily-quota',
    });
    expect(classifyFailure(httpError(429, {}, body('GenerateRequestsPerMinutePerProjectPerModel')))).toMatchObject({
      retryable: true,
      reason: 'rate-limited',
      retryAfterMs: 20_000,
    });
  });

  it('aborts, and errors that are neither HTTP nor network failures', () => {
    expect(classifyFailure(new DOMException('aborted', 'AbortError'))).toEqual({ retryable: false, reason: 'aborted' });
    class APIUserAbortError extends Error {}
    expect(classifyFailure(new APIUserAbortError('Request was aborted.')).reason).toBe('aborted');
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({
      retryable: false,
      reason: 'unknown',
    });
    expect(classifyFailure('a string')).toEqual({ retryable: false, reason: 'unknown' });
    expect(classifyFailure(undefined)).toEqual({ retryable: false, reason: 'unknown' });
  });
});

describe('classifyFailure: x-should-retry', () => {
  it('overrides the status in both directions', () => {
    expect(classifyFailure(httpError(400, { 'x-should-retry': 'true' }))).toEqual({
      retryable: true,
      reason: 'server-retry',
      status: 400,
    });
    expect(classifyFailure(httpError(500, { 'X-Should-Retry': 'false' }))).toEqual({
      retryable: false,
      reason: 'server-no-retry',
      status: 500,
    });
    expect(classifyFailure(httpError(429, { 'x-should-retry': 'true' })).reason).toBe('rate-limited');
  });
});

describe('classifyFailure: network failures and timeouts', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET'])('retries %s', (code) => {
    expect(classifyFailure(errno(code))).toEqual({ retryable: true, reason: 'connection', code });
  });

  it.each(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])('retries %s as a timeout', (code) => {
    expect(classifyFailure(errno(code))).toEqual({ retryable: true, reason: 'timeout', code });
  });

  it('looks through fetch failed and SDK wrappers to the socket error', () => {
    const socket = errno('UND_ERR_SOCKET', 'other side closed');
    const fetchFailed = new TypeError('fetch failed', { cause: socket });
    expect(classifyFailure(fetchFailed)).toEqual({ retryable: true, reason: 'connection', code: 'UND_ERR_SOCKET' });
    class APIConnectionError extends Error {}
    expect(classifyFailure(new APIConnectionError('Connection error.', { cause: fetchFailed }))).toMatchObject({
      retryable: true,
      reason: 'connection',
    });
    class APIConnectionTimeoutError extends APIConnectionError {}
    expect(classifyFailure(new APIConnectionTimeoutError('Request timed out.')).reason).toBe('timeout');
    expect(classifyFailure(new Error('socket hang up')).reason).toBe('connection');
    const aggregate = new TypeError('fetch failed', {
      cause: new AggregateError([errno('ECONNREFUSED')], 'connect failed'),
    });
    expect(classifyFailure(aggregate)).toEqual({ retryable: true, reason: 'connection', code: 'ECONNREFUSED' });
    // A bare "fetch failed" with nothing recognisable under it is not guessed at.
    expect(classifyFailure(new TypeError('fetch failed', { cause: new Error('invalid thing') })).retryable).toBe(false);
    expect(classifyFailure(errno('ENOTFOUND')).retryable).toBe(false);
  });

  it('retries attempt timeouts and TimeoutError', () => {
    expect(classifyFailure(new AttemptTimeoutError(1, 'attemptTimeoutMs', 5_000))).toEqual({
      retryable: true,
      reason: 'timeout',
    });
    expect(classifyFailure(new DOMException('The operation timed out.', 'TimeoutError'))).toEqual({
      retryable: true,
      reason: 'timeout',
    });
  });
});

describe('classifyFailure: fetch Response', () => {
  it('reads status and headers; the body is passed in', async () => {
    const response = new Response(
      JSON.stringify({ error: { message: 'Please try again in 20ms.', code: 'rate_limit_exceeded' } }),
      {
        status: 429,
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(classifyFailure(response)).toEqual({ retryable: true, reason: 'rate-limited', status: 429 });
    const body = await readErrorBody(response);
    expect(classifyFailure(response, { body })).toEqual({
      retryable: true,
      reason: 'rate-limited',
      status: 429,
      retryAfterMs: 20,
      code: 'rate_limit_exceeded',
    });
    // The body was read from a clone: the caller can still read the original.
    await expect(response.json()).resolves.toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('reads the response of an HTTP client error (ky)', () => {
    const kyLike = Object.assign(new Error('Request failed'), { response: new Response(null, { status: 502 }) });
    expect(classifyFailure(kyLike)).toEqual({ retryable: true, reason: 'server-error', status: 502 });
  });
});

describe('readErrorBody', () => {
  it('returns parsed JSON, plain text, or undefined', async () => {
    await expect(readErrorBody(new Response('{"a":1}', { status: 500 }))).resolves.toEqual({ a: 1 });
    await expect(readErrorBody(new Response('Bad gateway', { status: 502 }))).resolves.toBe('Bad gateway');
    await expect(readErrorBody(new Response(null, { status: 502 }))).resolves.toBeUndefined();
    const used = new Response('x', { status: 500 });
    await used.text();
    await expect(readErrorBody(used)).resolves.toBeUndefined();
  });

  it('stops at maxBytes', async () => {
    const big = 'x'.repeat(200_000);
    const text = await readErrorBody(new Response(big, { status: 500 }), { maxBytes: 1_000 });
    expect(text).toBe('x'.repeat(1_000));
  });

  it('never hangs on a body that stalls', async () => {
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"error":{"message":"Please try again in 2s"'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const response = new Response(stalled, { status: 429 });
    const started = performance.now();
    const body = await readErrorBody(response, { timeoutMs: 50 });
    expect(performance.now() - started).toBeLessThan(1_000);
    // Partial JSON is kept as text, which still names the delay.
    expect(classifyFailure(response, { body }).retryAfterMs).toBe(2_000);
    await response.body?.cancel();
    expect(cancelled).toBe(true);
  });

  it('stops at once when the signal aborts', async () => {
    const stalled = new ReadableStream<Uint8Array>({ start() {} });
    const controller = new AbortController();
    const reading = readErrorBody(new Response(stalled, { status: 500 }), {
      signal: controller.signal,
      timeoutMs: 60_000,
    });
    controller.abort();
    await expect(reading).resolves.toBeUndefined();
  });
});
