import { createHash } from 'node:crypto';
import type { JsonObject as Json } from '../internal/is-object.js';
import type { RequestPlan } from './mock-usage.js';

/*
 * Response bodies and server-sent event sequences shaped like the real APIs, so the official
 * `openai` and `@anthropic-ai/sdk` clients parse them (including their streaming helpers).
 */

/** One server-sent event: an optional `event:` name and its `data:` payload. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

/** Ids and timestamps of one response. */
export interface ResponseIds {
  /** Unique per response, e.g. `chatcmpl-mock000001`. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
}

function words(text: string): string[] {
  // Each word after the first carries its leading space, so the deltas join back to `text`.
  return text === '' ? [] : text.split(' ').map((w, i) => (i === 0 ? w : ` ${w}`));
}

// ---------- OpenAI chat completions ----------

function chatUsage(plan: RequestPlan): Json {
  return {
    prompt_tokens: plan.actual.input,
    completion_tokens: plan.actual.output,
    total_tokens: plan.actual.input + plan.actual.output,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const FINGERPRINT = 'fp_forestall_mock';

/** A `chat.completion` object. */
export function chatCompletion(plan: RequestPlan, ids: ResponseIds): Json {
  return {
    id: ids.id,
    object: 'chat.completion',
    created: ids.created,
    model: plan.model,
    choices: Array.from({ length: plan.choices }, (_, index) => ({
      index,
      message: { role: 'assistant', content: plan.text, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: plan.truncated ? 'length' : 'stop',
    })),
    usage: chatUsage(plan),
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
  };
}

/**
 * `chat.completion.chunk` events ending in `[DONE]`; with `stream_options.include_usage`, every
 * chunk carries `usage: null` and a last chunk with no choices carries the usage, as OpenAI sends.
 */
export function chatCompletionStream(plan: RequestPlan, ids: ResponseIds, includeUsage: boolean): SseEvent[] {
  const chunk = (choices: Json[], usage?: Json | null): SseEvent => ({
    data: JSON.stringify({
      id: ids.id,
      object: 'chat.completion.chunk',
      created: ids.created,
      model: plan.model,
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
      choices,
      ...(includeUsage ? { usage: usage ?? null } : {}),
    }),
  });
  const events: SseEvent[] = [];
  for (let index = 0; index < plan.choices; index++) {
    events.push(
      chunk([{ index, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
    );
    for (const piece of words(plan.text)) {
      events.push(chunk([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]));
    }
    events.push(chunk([{ index, delta: {}, logprobs: null, finish_reason: plan.truncated ? 'length' : 'stop' }]));
  }
  if (includeUsage) events.push(chunk([], chatUsage(plan)));
  events.push({ data: '[DONE]' });
  return events;
}

// ---------- OpenAI Responses API ----------

function responsesUsage(plan: RequestPlan): Json {
  return {
    input_tokens: plan.actual.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: plan.actual.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: plan.actual.input + plan.actual.output,
  };
}

function messageItem(
  itemId: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  text: string | undefined,
): Json {
  return {
    id: itemId,
    type: 'message',
    status,
    role: 'assistant',
    content: text === undefined ? [] : [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  };
}

/** A finished response is `incomplete` when it stopped at `max_output_tokens`, as the API reports it. */
function finalStatus(plan: RequestPlan): 'completed' | 'incomplete' {
  return plan.truncated ? 'incomplete' : 'completed';
}

function responseObject(
  plan: RequestPlan,
  ids: ResponseIds,
  body: Json,
  status: 'in_progress' | 'completed' | 'incomplete',
  output: Json[],
): Json {
  const done = status !== 'in_progress';
  return {
    id: ids.id,
    object: 'response',
    created_at: ids.created,
    status,
    background: false,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
    model: plan.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store !== false,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    truncation: 'disabled',
    usage: done ? responsesUsage(plan) : null,
    user: null,
    metadata: typeof body.metadata === 'object' && body.metadata !== null ? body.metadata : {},
  };
}

function itemIdOf(ids: ResponseIds): string {
  return `msg_${ids.id.replace(/^resp_/, '')}`;
}

/** A Responses API `response` object. */
export function responsesResponse(plan: RequestPlan, ids: ResponseIds, body: Json): Json {
  const status = finalStatus(plan);
  return responseObject(plan, ids, body, status, [messageItem(itemIdOf(ids), status, plan.text)]);
}

/**
 * Responses API events from `response.created` to `response.completed` (or `response.incomplete`
 * when `max_output_tokens` cut the answer short), the last one carrying usage.
 */
export function responsesStream(plan: RequestPlan, ids: ResponseIds, body: Json): SseEvent[] {
  const itemId = itemIdOf(ids);
  let sequence = 0;
  const events: SseEvent[] = [];
  const emit = (type: string, fields: Json): void => {
    events.push({ event: type, data: JSON.stringify({ type, sequence_number: sequence++, ...fields }) });
  };
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  emit('response.created', { response: responseObject(plan, ids, body, 'in_progress', []) });
  emit('response.in_progress', { response: responseObject(plan, ids, body, 'in_progress', []) });
  emit('response.output_item.added', { output_index: 0, item: messageItem(itemId, 'in_progress', undefined) });
  emit('response.content_part.added', {
    ...at,
    part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
  });
  for (const piece of words(plan.text)) emit('response.output_text.delta', { ...at, delta: piece, logprobs: [] });
  emit('response.output_text.done', { ...at, text: plan.text, logprobs: [] });
  emit('response.content_part.done', {
    ...at,
    part: { type: 'output_text', text: plan.text, annotations: [], logprobs: [] },
  });
  const status = finalStatus(plan);
  const item = messageItem(itemId, status, plan.text);
  emit('response.output_item.done', { output_index: 0, item });
  emit(`response.${status}`, { response: responseObject(plan, ids, body, status, [item]) });
  return events;
}

// ---------- OpenAI embeddings ----------

/** A deterministic unit-ish vector for `text`, from its SHA-256. */
function vectorFor(text: string, dimensions: number): number[] {
  const out: number[] = [];
  let block = 0;
  while (out.length < dimensions) {
    const digest = createHash('sha256').update(`${block++}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && out.length < dimensions; i += 2) {
      out.push(Math.round(((digest.readUInt16BE(i) / 65_535) * 2 - 1) * 1e6) / 1e6);
    }
  }
  return out;
}

/** A `list` of embeddings, base64-encoded float32 when `encoding_format` asks (the SDK's default). */
export function embeddingsResponse(plan: RequestPlan, body: Json): Json {
  const input = body.input;
  const items: unknown[] = Array.isArray(input) && input.some((v) => typeof v !== 'number') ? input : [input];
  const asked = body.dimensions;
  // Small by default: tests want a vector, not a realistic 1,536 floats per input.
  const dimensions = typeof asked === 'number' && Number.isInteger(asked) && asked > 0 ? Math.min(asked, 4_096) : 8;
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list',
    data: items.map((item, index) => {
      const vector = vectorFor(JSON.stringify(item), dimensions);
      const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    }),
    model: plan.model,
    usage: { prompt_tokens: plan.actual.input, total_tokens: plan.actual.input },
  };
}

// ---------- Anthropic messages ----------

function anthropicUsage(plan: RequestPlan, output: number): Json {
  return {
    input_tokens: plan.actual.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: output,
    service_tier: 'standard',
  };
}

/** A `message` object. */
export function anthropicMessage(plan: RequestPlan, ids: ResponseIds): Json {
  return {
    id: ids.id,
    type: 'message',
    role: 'assistant',
    model: plan.model,
    content: [{ type: 'text', text: plan.text }],
    stop_reason: plan.truncated ? 'max_tokens' : 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(plan, plan.actual.output),
  };
}

/** `message_start` … `message_stop`, with the final output usage in `message_delta`. */
export function anthropicStream(plan: RequestPlan, ids: ResponseIds): SseEvent[] {
  const events: SseEvent[] = [];
  const emit = (type: string, fields: Json): void => {
    events.push({ event: type, data: JSON.stringify({ type, ...fields }) });
  };
  emit('message_start', {
    message: {
      id: ids.id,
      type: 'message',
      role: 'assistant',
      model: plan.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Anthropic reports a token or so of output at the start; the final count comes in message_delta.
      usage: anthropicUsage(plan, Math.min(1, plan.actual.output)),
    },
  });
  emit('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  emit('ping', {});
  for (const piece of words(plan.text))
    emit('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
  emit('content_block_stop', { index: 0 });
  emit('message_delta', {
    delta: { stop_reason: plan.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: plan.actual.output },
  });
  emit('message_stop', {});
  return events;
}

/** Serializes events for the wire. */
export function encodeSse(event: SseEvent): string {
  return event.event === undefined ? `data: ${event.data}\n\n` : `event: ${event.event}\ndata: ${event.data}\n\n`;
}
