import { closeSync, existsSync, fsyncSync, openSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { readLines } from './lines.js';

/** One line of the results file, in the OpenAI Batch API output shape. */
export type ResultRecord =
  | {
      readonly custom_id: string;
      readonly response: { readonly status_code: number; readonly request_id?: string; readonly body: unknown };
      readonly error: null;
    }
  | {
      readonly custom_id: string;
      readonly response: null;
      readonly error: { readonly code: string; readonly message: string };
    };

/** What an existing results file holds. */
export interface ResultsScan {
  /** `custom_id`s with a result that counts as done (all of them, or only successes with `retryFailed`). */
  readonly done: ReadonlySet<string>;
  /** Results kept in the file. */
  readonly lines: number;
  /** Bytes cut off the end: a last line a crash left incomplete. */
  readonly truncatedBytes: number;
  /** Numbers of damaged lines in the middle of the file, left as they are (and redone). */
  readonly damaged: readonly number[];
  /** Failed results dropped from the file to be redone (`retryFailed`). */
  readonly dropped: number;
}

/** True for a result that needs no second try: an answer in the 2xx range. */
export function isSuccess(record: { readonly response?: unknown; readonly error?: unknown }): boolean {
  const status = (record.response as { status_code?: unknown } | null | undefined)?.status_code;
  return (
    (record.error === null || record.error === undefined) && typeof status === 'number' && status >= 200 && status < 300
  );
}

function parseResult(text: string): { custom_id: string; response?: unknown; error?: unknown } | undefined {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    const id = (json as { custom_id?: unknown }).custom_id;
    return typeof id === 'string' ? (json as { custom_id: string }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the results of an earlier run, to resume it. Only whole lines count: a line without its
 * `\n`, or that is not JSON with a `custom_id`, is damaged. A damaged tail (what a killed process
 * leaves) is cut off the file so appending starts on a clean line; its requests are redone.
 * With `retryFailed`, the file is rewritten without its failed results (atomically: a temporary
 * file renamed over it), and those requests are redone too.
 */
export async function scanResults(path: string, options: { readonly retryFailed: boolean }): Promise<ResultsScan> {
  if (!existsSync(path)) return { done: new Set(), lines: 0, truncatedBytes: 0, damaged: [], dropped: 0 };
  const done = new Set<string>();
  const damaged: { readonly number: number; readonly end: number }[] = [];
  let goodEnd = 0;
  let lines = 0;
  let failed = 0;
  for await (const line of readLines(path)) {
    if (line.terminated && line.text.trim() === '') continue;
    const record = line.terminated ? parseResult(line.text) : undefined;
    if (record === undefined) {
      damaged.push({ number: line.number, end: line.end });
      continue;
    }
    goodEnd = line.end;
    lines++;
    if (options.retryFailed && !isSuccess(record)) failed++;
    else done.add(record.custom_id);
  }
  const size = statSync(path).size;
  let truncatedBytes = 0;
  if (size > goodEnd) {
    // Everything after the last good line is damage from an interrupted write: cut it off.
    truncateSync(path, goodEnd);
    truncatedBytes = size - goodEnd;
  }
  const middle = damaged.filter((d) => d.end <= goodEnd).map((d) => d.number);
  if (failed > 0) await rewriteWithout(path, done);
  return { done, lines: lines - failed, truncatedBytes, damaged: middle, dropped: failed };
}

/** Rewrites the file keeping only whole results whose id is in `keep`. */
async function rewriteWithout(path: string, keep: ReadonlySet<string>): Promise<void> {
  const temporary = `${path}.forestall-${process.pid}.tmp`;
  const writer = new ResultsWriter(temporary, 'w');
  try {
    for await (const line of readLines(path)) {
      const record = line.terminated ? parseResult(line.text) : undefined;
      if (record !== undefined && keep.has(record.custom_id) && isSuccess(record)) writer.writeLine(line.text);
    }
  } finally {
    writer.close();
  }
  renameSync(temporary, path);
}

/**
 * Appends result lines to a file. Each line goes out in one `write` call, synchronously, so a
 * process killed at any moment leaves whole lines and at most one partial last line.
 */
export class ResultsWriter {
  readonly #fd: number;
  #closed = false;

  constructor(path: string, flags: 'a' | 'w' = 'a') {
    this.#fd = openSync(path, flags);
  }

  /** Appends one result as a JSON line. */
  write(record: ResultRecord): void {
    this.writeLine(JSON.stringify(record));
  }

  /** Appends `text` and a newline. */
  writeLine(text: string): void {
    const data = Buffer.from(`${text}\n`, 'utf8');
    let offset = 0;
    // One call writes it all on a local file; loop only in case the system wrote less.
    while (offset < data.length) offset += writeSync(this.#fd, data, offset);
  }

  /** Flushes to disk and closes; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      fsyncSync(this.#fd);
    } catch {
      // Some file systems (pipes, /dev/stdout) cannot sync; the data was written all the same.
    }
    closeSync(this.#fd);
  }
}
