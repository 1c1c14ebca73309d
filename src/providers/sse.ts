/*
 * A server-sent-events reader built for the hot path of a streamed response: it sees every chunk,
 * so it must cost next to nothing per chunk.
 * - It splits lines on bytes, never decoding text it will not parse. UTF-8 continuation bytes are
 *   all >= 0x80, so CR and LF bytes are always real line ends, and a character split across
 *   chunks is whole again once its line is.
 * - Each chunk is scanned once: the next CR and LF positions are remembered, not searched for
 *   again from every line.
 * - An event's data is decoded and handed on only when one of its `data:` lines contains one of
 *   the needles (e.g. `_tokens"`), or its `event:` field is `error`; everything else is dropped
 *   unread. While `matchAll` is set (the fetch wrapper peeking at a stream's first events), every
 *   event with data is handed on.
 * Lines end in LF, CR or CR LF, also when the CR and the LF arrive in different chunks.
 */

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const DATA = [0x64, 0x61, 0x74, 0x61] as const; // "data"
const EVENT_ERROR = [0x65, 0x76, 0x65, 0x6e, 0x74, 0x3a] as const; // "event:"
const ERROR = [0x65, 0x72, 0x72, 0x6f, 0x72] as const; // "error"

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  // A plain loop: twice as fast as `indexOf` on the short lines of an event.
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = 0; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return needle.length === 0;
}

function isDataField(line: Uint8Array): boolean {
  return (
    line[0] === DATA[0] &&
    line[1] === DATA[1] &&
    line[2] === DATA[2] &&
    line[3] === DATA[3] &&
    (line.length === 4 || line[4] === COLON)
  );
}

/** True for an `event: error` (or `event:error`) line. */
function isErrorEvent(line: Uint8Array): boolean {
  for (let i = 0; i < EVENT_ERROR.length; i++) if (line[i] !== EVENT_ERROR[i]) return false;
  const at = line[EVENT_ERROR.length] === SPACE ? EVENT_ERROR.length + 1 : EVENT_ERROR.length;
  if (line.length !== at + ERROR.length) return false;
  for (let i = 0; i < ERROR.length; i++) if (line[at + i] !== ERROR[i]) return false;
  return true;
}

/**
 * Called with an event's data (several `data:` lines joined with `\n`), whether its `event:` field
 * was `error`, and where in the chunk being pushed the event began (0 when it began in an earlier
 * chunk): the bytes of the chunk before `start` belong to earlier events.
 */
export type SseDataHandler = (data: string, errorEvent: boolean, start: number) => void;

/**
 * Reads a byte stream of server-sent events and calls `onData` with the data of every event whose
 * data contains one of the needles (several `data:` lines joined with `\n`, as the SSE spec
 * says), or whose `event:` field is `error`. Internal.
 */
export class SseEventFilter {
  readonly #needles: readonly Uint8Array[];
  readonly #onData: SseDataHandler;
  readonly #decoder = new TextDecoder();
  /** Bytes of a line not yet ended, carried over from earlier chunks. */
  #partial: Uint8Array[] = [];
  #partialLength = 0;
  /** The last chunk ended in CR: an LF opening the next one belongs to that line end. */
  #skipLineFeed = false;
  #atStreamStart = true;
  /** The `data:` values of the event being read. */
  #dataLines: Uint8Array[] = [];
  #matches = false;
  #errorEvent = false;
  /** A line of the event being read was seen (comments and other fields included). */
  #eventOpen = false;
  /** Where, in the chunk being pushed, the event being read began (0: in an earlier chunk). */
  #eventStart = 0;
  #ended = false;
  /** Hand on every event that has data, not only those matching a needle. */
  matchAll = false;

  constructor(needle: string | readonly string[], onData: SseDataHandler) {
    const encoder = new TextEncoder();
    this.#needles = (typeof needle === 'string' ? [needle] : needle).map((n) => encoder.encode(n));
    this.#onData = onData;
  }

  /** Feeds the next chunk of the stream. Does not keep a reference to `chunk` after it returns. */
  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    let lineStart = 0;
    if (this.#skipLineFeed) {
      this.#skipLineFeed = false;
      if (chunk[0] === LF) lineStart = 1;
    }
    let nextLf = -2; // -2: not searched yet; -1: none left in this chunk
    let nextCr = -2;
    while (lineStart < chunk.length) {
      if (nextLf !== -1 && nextLf < lineStart) nextLf = chunk.indexOf(LF, lineStart);
      if (nextCr !== -1 && nextCr < lineStart) nextCr = chunk.indexOf(CR, lineStart);
      const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (end === -1) break;
      this.#line(chunk.subarray(lineStart, end), this.#partialLength > 0 ? 0 : lineStart);
      if (chunk[end] === CR) {
        if (end + 1 === chunk.length) this.#skipLineFeed = true;
        else if (chunk[end + 1] === LF) {
          lineStart = end + 2;
          continue;
        }
      }
      lineStart = end + 1;
    }
    if (lineStart < chunk.length) {
      if (!this.#eventOpen) this.#eventOpen = true; // it begins here, and is read on in a later chunk
      this.#partial.push(chunk.slice(lineStart)); // a copy: the caller may reuse its buffer
      this.#partialLength += chunk.length - lineStart;
    }
    this.#eventStart = 0; // an event still open began in this chunk, earlier than the next one
    // Data lines of an event still open may be views into this chunk: copy them before returning.
    for (let i = 0; i < this.#dataLines.length; i++) {
      const line = this.#dataLines[i];
      if (line !== undefined && line.buffer === chunk.buffer) this.#dataLines[i] = line.slice();
    }
  }

  /** The stream is over: an unterminated last line and event are still read. Idempotent. */
  end(): void {
    if (this.#ended) return;
    if (this.#partialLength > 0) this.#line(new Uint8Array(0), 0);
    this.#dispatch();
    this.#ended = true;
  }

  #line(tail: Uint8Array, start: number): void {
    let line = tail;
    if (this.#partialLength > 0) {
      line = new Uint8Array(this.#partialLength + tail.length);
      let at = 0;
      for (const part of this.#partial) {
        line.set(part, at);
        at += part.length;
      }
      line.set(tail, at);
      this.#partial = [];
      this.#partialLength = 0;
    }
    if (this.#atStreamStart) {
      this.#atStreamStart = false;
      if (line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3); // BOM
    }
    if (line.length === 0) {
      this.#dispatch();
      this.#eventOpen = false;
      this.#errorEvent = false;
      return;
    }
    if (!this.#eventOpen) {
      this.#eventOpen = true;
      this.#eventStart = start;
    }
    if (!isDataField(line)) {
      // id:, retry:, ": keep-alive" comments and event: names, of which only `error` matters.
      if (line[0] === EVENT_ERROR[0] && isErrorEvent(line)) this.#errorEvent = true;
      return;
    }
    const value = line.subarray(line[5] === SPACE ? 6 : 5);
    this.#dataLines.push(value);
    if (!this.#matches) {
      for (const needle of this.#needles) {
        if (contains(value, needle)) {
          this.#matches = true;
          break;
        }
      }
    }
  }

  #dispatch(): void {
    const lines = this.#dataLines;
    const matches = this.#matches || this.#errorEvent || this.matchAll;
    if (lines.length === 0) return;
    this.#dataLines = [];
    this.#matches = false;
    if (!matches) return;
    const data =
      lines.length === 1 ? this.#decoder.decode(lines[0]) : lines.map((l) => this.#decoder.decode(l)).join('\n');
    this.#onData(data, this.#errorEvent, this.#eventStart);
  }
}
