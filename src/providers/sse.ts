/*
 * A server-sent-events reader built for the hot path of a streamed response: it sees every chunk,
 * so it must cost next to nothing per chunk.
 * - It splits lines on bytes, never decoding text it will not parse. UTF-8 continuation bytes are
 *   all >= 0x80, so CR and LF bytes are always real line ends, and a character split across
 *   chunks is whole again once its line is.
 * - Each chunk is scanned once: the next CR and LF positions are remembered, not searched for
 *   again from every line.
 * - An event's data is decoded and handed on only when one of its `data:` lines contains the
 *   needle (e.g. `_tokens"`); everything else is dropped unread.
 * Lines end in LF, CR or CR LF, also when the CR and the LF arrive in different chunks.
 */

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const DATA = [0x64, 0x61, 0x74, 0x61] as const; // "data"

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  if (first === undefined) return true;
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
  }
  return false;
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

/**
 * Reads a byte stream of server-sent events and calls `onData` with the data of every event whose
 * data contains `needle` (several `data:` lines joined with `\n`, as the SSE spec says). Internal.
 */
export class SseEventFilter {
  readonly #needle: Uint8Array;
  readonly #onData: (data: string) => void;
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
  #ended = false;

  constructor(needle: string, onData: (data: string) => void) {
    this.#needle = new TextEncoder().encode(needle);
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
      this.#line(chunk.subarray(lineStart, end));
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
      this.#partial.push(chunk.slice(lineStart)); // a copy: the caller may reuse its buffer
      this.#partialLength += chunk.length - lineStart;
    }
    // Data lines of an event still open may be views into this chunk: copy them before returning.
    for (let i = 0; i < this.#dataLines.length; i++) {
      const line = this.#dataLines[i];
      if (line !== undefined && line.buffer === chunk.buffer) this.#dataLines[i] = line.slice();
    }
  }

  /** The stream is over: an unterminated last line and event are still read. Idempotent. */
  end(): void {
    if (this.#ended) return;
    if (this.#partialLength > 0) this.#line(new Uint8Array(0));
    this.#dispatch();
    this.#ended = true;
  }

  #line(tail: Uint8Array): void {
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
      return;
    }
    if (!isDataField(line)) return; // event:, id:, retry:, and ": keep-alive" comments
    const value = line.subarray(line[5] === SPACE ? 6 : 5);
    this.#dataLines.push(value);
    if (!this.#matches && contains(value, this.#needle)) this.#matches = true;
  }

  #dispatch(): void {
    const lines = this.#dataLines;
    const matches = this.#matches;
    if (lines.length === 0) return;
    this.#dataLines = [];
    this.#matches = false;
    if (!matches) return;
    const data =
      lines.length === 1 ? this.#decoder.decode(lines[0]) : lines.map((l) => this.#decoder.decode(l)).join('\n');
    this.#onData(data);
  }
}
