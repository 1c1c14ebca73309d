import { createReadStream } from 'node:fs';

/** One line of a text file, with where it lies in the file. */
export interface FileLine {
  /** The line's text, without its line ending (`\n` or `\r\n`). */
  readonly text: string;
  /** 1 for the first line. */
  readonly number: number;
  /** Byte offset of the line's first byte. */
  readonly start: number;
  /** Byte offset just past the line, its `\n` included. */
  readonly end: number;
  /** False for a last line with no `\n` after it: it may have been cut short by a crash. */
  readonly terminated: boolean;
}

const NEWLINE = 0x0a;

function decode(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/**
 * Reads a file line by line, in chunks, holding no more than a chunk and the current line.
 * Byte offsets let a caller cut a damaged tail off the file. Stopping early closes the file.
 */
export async function* readLines(path: string): AsyncGenerator<FileLine, void, undefined> {
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let offset = 0;
  let number = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (;;) {
        const newline = chunk.indexOf(NEWLINE, from);
        if (newline === -1) {
          if (from < chunk.length) {
            pending.push(chunk.subarray(from));
            pendingLength += chunk.length - from;
          }
          break;
        }
        const piece = chunk.subarray(from, newline);
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        pending = [];
        pendingLength = 0;
        const end = offset + bytes.length + 1;
        yield { text: decode(bytes), number: ++number, start: offset, end, terminated: true };
        offset = end;
        from = newline + 1;
      }
    }
    if (pendingLength > 0) {
      const bytes = Buffer.concat(pending);
      yield { text: decode(bytes), number: ++number, start: offset, end: offset + bytes.length, terminated: false };
    }
  } finally {
    stream.destroy();
  }
}
