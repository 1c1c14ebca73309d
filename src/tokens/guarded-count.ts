import type { Tiktoken } from 'js-tiktoken/lite';
import type { LoadedEncoding } from './encoding.js';
import { utf8Length } from './fast-estimate.js';

/*
 * js-tiktoken splits text into pre-token pieces with the encoding's pattern, then runs a byte-pair
 * merge on each piece that is not itself a token. That merge is quadratic (or worse) in the
 * piece's length: 1,000 × "a" takes ~80 ms, 16,000 × "a" ~27 s, all of it blocking the event loop.
 * Ordinary words are short pieces, but a run without word boundaries (base64 without digits,
 * minified identifiers, "aaaa…", long CJK clauses) is one long piece.
 *
 * So this counter walks the pieces itself (one linear regex pass) and
 * - hands runs of ordinary pieces to js-tiktoken in slices cut at piece boundaries, which keeps
 *   the count exact: the pattern has no look-behind and its one look-ahead (`\s+(?!\S)`) matches
 *   the same span at a slice end as before the next piece;
 * - estimates each piece longer than MAX_EXACT_PIECE_BYTES from a few short windows of it that
 *   are merged exactly, so its cost is bounded however long it is;
 * - gives the event loop a turn every few milliseconds of work, so a megabyte of text never
 *   blocks it for long.
 */

/** Pieces up to this many UTF-8 bytes are merged exactly (about 0.5 ms at worst each). */
const MAX_EXACT_PIECE_BYTES = 64;
/** A piece of at most this many UTF-16 code units has at most 63 UTF-8 bytes: no need to measure. */
const SURELY_SHORT_UNITS = Math.floor(MAX_EXACT_PIECE_BYTES / 3);
/** Bytes per sample window of a long piece, and windows per piece (start, middle, end). */
const SAMPLE_BYTES = 48;
/** Long pieces sampled per count; later ones reuse the average ratio, which bounds the cost. */
const MAX_SAMPLED_PIECES = 8;
/*
 * How much merging to hand js-tiktoken at once, so one slice takes a few milliseconds. A piece's
 * merge costs about its byte length squared (a piece that is itself a token costs next to nothing,
 * but we cannot tell which before merging), so a slice is cut when the pieces' (length in bytes)²
 * add up to this: ~2,000 characters of English prose, ~10 clauses of Chinese.
 */
const SLICE_WEIGHT = 16_384;
/** Work between two turns of the event loop. */
const YIELD_AFTER_MS = 8;

// Captured at load, so fake timers installed later (tests) cannot stall a count.
const setImmediateAtLoad: ((callback: () => void) => unknown) | undefined =
  typeof setImmediate === 'function' ? setImmediate : undefined;
const setTimeoutAtLoad = setTimeout;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (setImmediateAtLoad !== undefined) setImmediateAtLoad(resolve);
    else setTimeoutAtLoad(resolve, 0);
  });
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Up to `maxBytes` of whole code points of `text`, starting at or just after `start`. */
function windowAt(text: string, start: number, maxBytes: number): string {
  let from = Math.max(0, Math.min(start, text.length - 1));
  if (isLowSurrogate(text.charCodeAt(from))) from++;
  let to = from;
  let bytes = 0;
  while (to < text.length) {
    const code = text.charCodeAt(to);
    const pair = code >= 0xd800 && code <= 0xdbff && to + 1 < text.length && isLowSurrogate(text.charCodeAt(to + 1));
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > maxBytes && to > from) break;
    bytes += size;
    to += pair ? 2 : 1;
  }
  return text.slice(from, to);
}

/**
 * Counts text with one loaded encoding, guarding against pathological pieces. One instance per
 * count call (or per request estimate): it keeps that call's sampling budget and yield clock.
 * Internal.
 */
export class GuardedCounter {
  readonly #encoder: Tiktoken;
  readonly #pattern: RegExp;
  #sampledPieces = 0;
  #sampleTokens = 0;
  #sampleBytes = 0;
  #lastTurn = performance.now();

  constructor(encoding: LoadedEncoding) {
    this.#encoder = encoding.encoder;
    // Our own instance: a shared one's lastIndex would be clobbered by a count interleaved at a yield.
    this.#pattern = new RegExp(encoding.pattern, 'gu');
  }

  /** Tokens in `text`; exact unless it holds a piece longer than MAX_EXACT_PIECE_BYTES. */
  async count(text: string): Promise<number> {
    if (text.length === 0) return 0;
    // Too short to hold a long piece: skip the walk (roles, names, most message parts).
    if (text.length <= SURELY_SHORT_UNITS) return this.#exact(text);
    const pattern = this.#pattern;
    pattern.lastIndex = 0;
    let total = 0;
    let sliceStart = 0;
    let sliceWeight = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const piece = match[0];
      if (piece.length === 0) {
        pattern.lastIndex++; // cannot happen with OpenAI's patterns; never loop on an empty match
        continue;
      }
      const end = match.index + piece.length;
      if (piece.length > SURELY_SHORT_UNITS) {
        const bytes = utf8Length(piece);
        if (bytes > MAX_EXACT_PIECE_BYTES) {
          if (match.index > sliceStart) total += this.#exact(text.slice(sliceStart, match.index));
          total += this.#estimateLongPiece(piece, bytes);
          sliceStart = end;
          sliceWeight = 0;
          const turn = this.#turnIfDue();
          if (turn !== undefined) await turn;
          continue;
        }
      }
      // Bytes per code unit guessed from the last one: CJK 3, most other scripts 2, ASCII 1.
      const last = piece.charCodeAt(piece.length - 1);
      const approxBytes = piece.length * (last < 0x80 ? 1 : last < 0x800 ? 2 : 3);
      sliceWeight += approxBytes * approxBytes;
      if (sliceWeight >= SLICE_WEIGHT) {
        total += this.#exact(text.slice(sliceStart, end));
        sliceStart = end;
        sliceWeight = 0;
        const turn = this.#turnIfDue();
        if (turn !== undefined) await turn;
      }
    }
    if (sliceStart < text.length) total += this.#exact(text.slice(sliceStart));
    return total;
  }

  #exact(text: string): number {
    // Empty allowed and disallowed lists: `<|endoftext|>` in user text is plain text, not a
    // special token, and never a thrown error.
    return this.#encoder.encode(text, [], []).length;
  }

  #estimateLongPiece(piece: string, bytes: number): number {
    if (this.#sampledPieces < MAX_SAMPLED_PIECES) {
      this.#sampledPieces++;
      let tokens = 0;
      let sampled = 0;
      // Start, middle and end: a piece's texture can change along it (a prefix, then a run).
      for (const at of [0, Math.floor(piece.length / 2) - SAMPLE_BYTES / 2, piece.length - SAMPLE_BYTES]) {
        const window = windowAt(piece, at, SAMPLE_BYTES);
        tokens += this.#exact(window);
        sampled += utf8Length(window);
      }
      this.#sampleTokens += tokens;
      this.#sampleBytes += sampled;
      // Windows lose the merges across their edges, so this errs slightly high, as a limiter should.
      return Math.max(1, Math.ceil((bytes * tokens) / sampled));
    }
    return Math.max(1, Math.ceil((bytes * this.#sampleTokens) / this.#sampleBytes));
  }

  #turnIfDue(): Promise<void> | undefined {
    if (performance.now() - this.#lastTurn < YIELD_AFTER_MS) return undefined;
    return nextTurn().then(() => {
      this.#lastTurn = performance.now();
    });
  }
}
