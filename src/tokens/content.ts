import {
  ANTHROPIC_IMAGE_TOKENS,
  FILE_REFERENCE_TOKENS,
  GEMINI_IMAGE_TOKENS,
  OPENAI_IMAGE_TOKENS,
  OPENAI_LOW_DETAIL_IMAGE_TOKENS,
  audioTokens,
  inlineFileTokens,
} from './media.js';
import type { TextCounter } from './text-counter.js';
import { isObject, type JsonObject } from '../internal/is-object.js';

/** JSON text of a value, or `''` for what JSON cannot write (cycles, bigints). Internal. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

function stringLength(value: unknown): number {
  return typeof value === 'string' ? value.length : 0;
}

/** The base64 payload length of a `data:` URL, or `undefined` for any other URL. */
function dataUrlPayload(url: unknown): number | undefined {
  if (typeof url !== 'string' || !url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  return comma < 0 ? undefined : url.length - comma - 1;
}

function openAiImage(detail: unknown): number {
  return detail === 'low' ? OPENAI_LOW_DETAIL_IMAGE_TOKENS : OPENAI_IMAGE_TOKENS;
}

function fileTokens(file: JsonObject): number {
  const data = file.file_data ?? file.data;
  if (typeof data === 'string') return inlineFileTokens(dataUrlPayload(data) ?? data.length);
  return FILE_REFERENCE_TOKENS;
}

/**
 * Tokens of one content part, whichever API it comes from: OpenAI chat parts (`text`,
 * `image_url`, `input_audio`, `file`, `refusal`), Responses parts (`input_text`, `output_text`,
 * `input_image`, `input_file`), Anthropic blocks (`text`, `image`, `document`, `tool_use`,
 * `tool_result`, `thinking`) and Gemini parts (`text`, `inlineData`, `fileData`, `functionCall`,
 * `functionResponse`). Unknown parts count as their JSON text. Internal.
 */
export async function countPart(counter: TextCounter, part: unknown): Promise<number> {
  if (typeof part === 'string') return counter.count(part);
  if (!isObject(part)) return 0;
  switch (part.type) {
    case undefined:
      return countGeminiPart(counter, part);
    case 'text':
    case 'input_text':
    case 'output_text':
      return typeof part.text === 'string' ? counter.count(part.text) : counter.count(jsonText(part));
    case 'refusal':
      return counter.count(typeof part.refusal === 'string' ? part.refusal : '');
    case 'image_url':
      return openAiImage(isObject(part.image_url) ? part.image_url.detail : undefined);
    case 'input_image':
      return openAiImage(part.detail);
    case 'image':
      return ANTHROPIC_IMAGE_TOKENS;
    case 'input_audio': {
      const audio = isObject(part.input_audio) ? part.input_audio : part;
      return audioTokens(stringLength(audio.data), audio.format);
    }
    case 'file':
      return fileTokens(isObject(part.file) ? part.file : part);
    case 'input_file':
      return fileTokens(part);
    case 'document': {
      const source = isObject(part.source) ? part.source : {};
      if (source.type === 'text' && typeof source.data === 'string') return counter.count(source.data);
      if (source.type === 'content') return countContent(counter, source.content);
      return fileTokens(source);
    }
    case 'tool_use':
    case 'server_tool_use':
      return (
        (await counter.count(typeof part.name === 'string' ? part.name : '')) +
        (await counter.count(jsonText(part.input)))
      );
    case 'tool_result':
      return countContent(counter, part.content);
    case 'thinking':
      return counter.count(typeof part.thinking === 'string' ? part.thinking : '');
    case 'redacted_thinking':
      return 0; // encrypted; earlier turns' thinking is not charged as input
    default:
      return counter.count(jsonText(part));
  }
}

async function countGeminiPart(counter: TextCounter, part: JsonObject): Promise<number> {
  if (typeof part.text === 'string') return counter.count(part.text);
  const inline = part.inlineData ?? part.inline_data;
  if (isObject(inline)) {
    const mime = inline.mimeType ?? inline.mime_type;
    return typeof mime === 'string' && mime.startsWith('image/')
      ? GEMINI_IMAGE_TOKENS
      : inlineFileTokens(stringLength(inline.data));
  }
  if (isObject(part.fileData ?? part.file_data)) return FILE_REFERENCE_TOKENS;
  return counter.count(jsonText(part));
}

/** Tokens of a content value: a string, an array of parts, or absent. Internal. */
export async function countContent(counter: TextCounter, content: unknown): Promise<number> {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return counter.count(content);
  if (!Array.isArray(content)) return countPart(counter, content);
  let total = 0;
  for (const part of content) total += await countPart(counter, part);
  return total;
}
