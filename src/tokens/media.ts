/*
 * Media parts cannot be measured without decoding them (and often not even then: a file id or URL
 * tells nothing about the size). These are documented guesses; the limiter's reconcile step
 * replaces them with what the response reports. When an image's size is unknown we assume a
 * 1024 × 1024 picture, a common upload, under each provider's published rule.
 */

/** OpenAI `detail: "low"` images: a flat 85 tokens whatever the size. */
export const OPENAI_LOW_DETAIL_IMAGE_TOKENS = 85;

/**
 * OpenAI `high` / `auto` detail images of unknown size: 85 + 170 per 512-px tile; a 1024 × 1024
 * image is scaled to 768 × 768, which is 4 tiles, so 765.
 */
export const OPENAI_IMAGE_TOKENS = 765;

/** Anthropic images of unknown size: about width × height / 750, so 1,398 for 1024 × 1024. */
export const ANTHROPIC_IMAGE_TOKENS = 1_398;

/** Gemini images of unknown size: 258 per 768-px tile, so 1,032 for 1024 × 1024 (2 × 2 tiles). */
export const GEMINI_IMAGE_TOKENS = 1_032;

/** Audio: about 10 input tokens per second of speech. */
const AUDIO_TOKENS_PER_SECOND = 10;

/** A file (PDF and the like) known only by id or URL. */
export const FILE_REFERENCE_TOKENS = 1_024;

/** Inline file data: one token per 64 characters of base64 (a dense PDF page is ~2 KB of text). */
const BASE64_CHARS_PER_FILE_TOKEN = 64;

/**
 * Tokens for inline audio given as base64 (OpenAI `input_audio`). Duration is guessed from the
 * size: MP3 at 128 kbit/s, anything else as 16-bit 16 kHz mono PCM.
 */
export function audioTokens(base64Length: number, format: unknown): number {
  const bytes = (base64Length * 3) / 4;
  const bytesPerSecond = format === 'mp3' ? 16_000 : 32_000;
  return Math.max(1, Math.ceil((bytes / bytesPerSecond) * AUDIO_TOKENS_PER_SECOND));
}

/** Tokens for an inline file given as base64 (or a `data:` URL); at least {@link FILE_REFERENCE_TOKENS}. */
export function inlineFileTokens(base64Length: number): number {
  return Math.max(FILE_REFERENCE_TOKENS, Math.ceil(base64Length / BASE64_CHARS_PER_FILE_TOKEN));
}
