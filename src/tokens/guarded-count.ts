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
 *
 * The same code counts in the tokenizer worker and, where no worker can run, on the calling
 * thread: `makeGuardedCounter` is sent to the worker as its source text, so it must stay
 * self-contained (no reference to anything outside its body; what it needs comes in as arguments).
 */

/** Counts the strings of one call or request estimate, in order, with one sampling budget. */
export interface GuardedCount {
  count(text: string): Promise<number>;
}

/**
 * A guarded counter over `encode` (exact token count of a string) and the encoding's pre-token
 * pattern. Self-contained: the worker evaluates its source. Internal.
 */
export function makeGuardedCounter(
  encode: (text: string) => number,
  patternSource: string,
  byteLength: (text: string) => number,
  nextTurn: () => Promise<void>,
): GuardedCount {
  /** Pieces up to this many UTF-8 bytes are merged exactly (about 0.5 ms at worst each). */
  const MAX_EXACT_PIECE_BYTES = 64;
  /** A piece of at most this many UTF-16 code units has at most 63 UTF-8 bytes: no need to measure. */
  const SURELY_SHORT_UNITS = Math.floor(MAX_EXACT_PIECE_BYTES / 3);
  /** Bytes per sample window of a long piece (start, middle, end). */
  const SAMPLE_BYTES = 48;
  /** Long pieces sampled per count; later ones reuse the average ratio, which bounds the cost. */
  const MAX_SAMPLED_PIECES = 8;
  /*
   * How much merging to hand js-tiktoken at once, so one slice takes a few milliseconds. A piece's
   * merge costs about its byte length squared (a piece that is itself a token costs next to
   * nothing, but we cannot tell which before merging), so a slice is cut when the pieces' (length
   * in bytes)² add up to this: ~2,000 characters of English prose, ~10 clauses of Chinese.
   */
  const SLICE_WEIGHT = 16_384;
  /** Work between two turns of the event loop. */
  const YIELD_AFTER_MS = 8;

  // Our own instance: a shared one's lastIndex would be clobbered by a count interleaved at a yield.
  const pattern = new RegExp(patternSource, 'gu');
  let sampledPieces = 0;
  let sampleTokens = 0;
  let sampleBytes = 0;
  let lastTurn = performance.now();

  const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

  /** Up to `maxBytes` of whole code points of `text`, starting at or just after `start`. */
  const windowAt = (text: string, start: number, maxBytes: number): string => {
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
  };

  const estimateLongPiece = (piece: string, bytes: number): number => {
    if (sampledPieces < MAX_SAMPLED_PIECES) {
      sampledPieces++;
      let tokens = 0;
      let sampled = 0;
      // Start, middle and end: a piece's texture can change along it (a prefix, then a run).
      for (const at of [0, Math.floor(piece.length / 2) - SAMPLE_BYTES / 2, piece.length - SAMPLE_BYTES]) {
        const window = windowAt(piece, at, SAMPLE_BYTES);
        tokens += encode(window);
        sampled += byteLength(window);
      }
      sampleTokens += tokens;
      sampleBytes += sampled;
      // Windows lose the merges across their edges, so this errs slightly high, as a limiter should.
      return Math.max(1, Math.ceil((bytes * tokens) / sampled));
    }
    return Math.max(1, Math.ceil((bytes * sampleTokens) / sampleBytes));
  };

  const turnIfDue = (): Promise<void> | undefined => {
    if (performance.now() - lastTurn < YIELD_AFTER_MS) return undefined;
    return nextTurn().then(() => {
      lastTurn = performance.now();
    });
  };

  /** Tokens in `text`; exact unless it holds a piece longer than MAX_EXACT_PIECE_BYTES. */
  const count = async (text: string): Promise<number> => {
    if (text.length === 0) return 0;
    // Too short to hold a long piece: skip the walk (roles, names, most message parts).
    if (text.length <= SURELY_SHORT_UNITS) return encode(text);
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
        const bytes = byteLength(piece);
        if (bytes > MAX_EXACT_PIECE_BYTES) {
          if (match.index > sliceStart) total += encode(text.slice(sliceStart, match.index));
          total += estimateLongPiece(piece, bytes);
          sliceStart = end;
          sliceWeight = 0;
          const turn = turnIfDue();
          if (turn !== undefined) {
            await turn;
            pattern.lastIndex = end; // another count may have used the pattern meanwhile
          }
          continue;
        }
      }
      // Bytes per code unit guessed from the last one: CJK 3, most other scripts 2, ASCII 1.
      const last = piece.charCodeAt(piece.length - 1);
      const approxBytes = piece.length * (last < 0x80 ? 1 : last < 0x800 ? 2 : 3);
      sliceWeight += approxBytes * approxBytes;
      if (sliceWeight >= SLICE_WEIGHT) {
        total += encode(text.slice(sliceStart, end));
        sliceStart = end;
        sliceWeight = 0;
        const turn = turnIfDue();
        if (turn !== undefined) {
          await turn;
          pattern.lastIndex = end;
        }
      }
    }
    if (sliceStart < text.length) total += encode(text.slice(sliceStart));
    return total;
  };

  return { count };
}

// Captured at load, so fake timers installed later (tests) cannot stall a count.
const setImmediateAtLoad: ((callback: () => void) => unknown) | undefined =
  typeof setImmediate === 'function' ? setImmediate : undefined;
const setTimeoutAtLoad = setTimeout;

/** A turn of the event loop, with the timers of module load. Internal. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (setImmediateAtLoad !== undefined) setImmediateAtLoad(resolve);
    else setTimeoutAtLoad(resolve, 0);
  });
}

/**
 * A guarded counter on this thread, over an encoding loaded here: where no worker can run, and for
 * comparing with the worker. One instance per count call or request estimate. Internal.
 */
export function guardedCounter(encoding: LoadedEncoding): GuardedCount {
  const { encoder } = encoding;
  // Empty allowed and disallowed lists: `<|endoftext|>` in user text is plain text, not a special
  // token, and never a thrown error.
  return makeGuardedCounter((text) => encoder.encode(text, [], []).length, encoding.pattern, utf8Length, nextTurn);
}
