import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isObject, type JsonObject as Json } from '../internal/is-object.js';
import type { MockProvider, ResolvedMockOptions } from './mock-options.js';
import type { MutableRecord } from './mock-stats.js';
import { planRequest, type MockEndpoint, type RequestPlan } from './mock-usage.js';

/*
 * Reading a request: which endpoint it asks for, its body, the caller's identifier, and whether the
 * body can be served. Nothing here touches the limits: bodies are read and their tokens counted in
 * parallel, before the one-at-a-time admission.
 */

/** The endpoints each provider serves, by path (POST only). */
export const ROUTES: Readonly<Record<MockProvider, Readonly<Record<string, MockEndpoint>>>> = {
  openai: { '/v1/chat/completions': 'chat', '/v1/responses': 'responses', '/v1/embeddings': 'embeddings' },
  anthropic: { '/v1/messages': 'messages' },
};

/** A body read and planned, or why it cannot be served (a 400). */
export type PreparedRequest = { readonly error: string } | { readonly plan: RequestPlan; readonly json: Json };

/** The raw body, as text; rejects when the client goes away meanwhile. */
export function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  return new Promise<string>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The caller's identifier for a request, from headers or the body's metadata. */
export function requestIdentifier(req: IncomingMessage, body: Json | undefined): string | undefined {
  for (const name of ['x-forestall-id', 'x-request-id', 'idempotency-key']) {
    const value = req.headers[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string' && first !== '') return first;
  }
  const metadata = body?.metadata;
  if (isObject(metadata)) {
    for (const key of ['forestall_id', 'id', 'custom_id']) {
      const value = metadata[key];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return undefined;
}

/** Why a parsed body cannot be served, in the provider's words; undefined when it can. */
function invalidBody(provider: MockProvider, endpoint: MockEndpoint, body: Json): string | undefined {
  if (provider === 'anthropic') {
    if (!Array.isArray(body.messages)) return 'messages: Field required';
    if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
    return undefined;
  }
  if (endpoint === 'chat' && !Array.isArray(body.messages)) return "Missing required parameter: 'messages'.";
  if (endpoint === 'embeddings' && body.input === undefined) return "Missing required parameter: 'input'.";
  return undefined;
}

/**
 * Parses the raw body and plans the request's charge and answer, noting the body's hash and the
 * caller's identifier in `record` as soon as they are known.
 */
export async function prepareRequest(
  req: IncomingMessage,
  raw: string,
  endpoint: MockEndpoint,
  options: ResolvedMockOptions,
  record: MutableRecord,
): Promise<PreparedRequest> {
  record.bodyHash = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { error: 'We could not parse the JSON body of your request.' };
  }
  if (!isObject(parsed)) return { error: 'The request body must be a JSON object.' };
  const id = requestIdentifier(req, parsed);
  if (id !== undefined) record.id = id;
  const invalid = invalidBody(options.provider, endpoint, parsed);
  if (invalid !== undefined) return { error: invalid };
  const plan = await planRequest(endpoint, parsed, raw, options);
  return { plan, json: parsed };
}
