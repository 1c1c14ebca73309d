import { formatCount, formatDuration, formatRate } from './format.js';

/** What the display shows: a batch's progress plus the counts the command keeps itself. */
export interface ProgressView {
  readonly done: number;
  readonly total: number | undefined;
  readonly failed: number;
  readonly inFlight: number;
  readonly ratePerSecond: number;
  readonly etaMs: number | undefined;
  /** 429 answers received. */
  readonly rateLimited: number;
  readonly retries: number;
}

/** Options of {@link ProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Redraw in place (a terminal) or print plain lines (a log, a pipe). @default the stream's `isTTY` */
  readonly tty?: boolean | undefined;
  /** How often a plain line is printed when not on a terminal. @default 5000 */
  readonly plainIntervalMs?: number | undefined;
  /** Words before the counts: `forestall`, `naive`. @default 'forestall' */
  readonly label?: string | undefined;
}

const BAR_WIDTH = 24;
/** A terminal is redrawn at most this often. */
const REDRAW_MS = 100;

/** Renders the counts as one line: `[█████░░░] 250/497 50% 41.3/s ETA 6.0 s 429s 0 retries 0`. */
export function progressLine(view: ProgressView, withBar: boolean): string {
  const parts: string[] = [];
  const { done, total } = view;
  if (total !== undefined && total > 0) {
    const share = Math.min(1, done / total);
    if (withBar) {
      const filled = Math.round(share * BAR_WIDTH);
      parts.push(`[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`);
    }
    parts.push(`${formatCount(done)}/${formatCount(total)}`, `${Math.floor(share * 100)}%`);
  } else {
    parts.push(`${formatCount(done)} done`);
  }
  parts.push(formatRate(view.ratePerSecond));
  if (view.etaMs !== undefined && done !== total) parts.push(`ETA ${formatDuration(view.etaMs)}`);
  parts.push(
    `in flight ${view.inFlight}`,
    `failed ${view.failed}`,
    `429s ${view.rateLimited}`,
    `retries ${view.retries}`,
  );
  return parts.join('  ');
}

/**
 * Shows progress on stderr: on a terminal, a bar redrawn in place (at most 10 times a second, and
 * every second so the ETA moves); elsewhere, a plain line every few seconds when something changed.
 */
export class ProgressDisplay {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #label: string;
  readonly #view: () => ProgressView;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastDrawAt = 0;
  #lastPrinted = '';
  #drawn = false;
  #stopped = false;

  constructor(stream: NodeJS.WriteStream, view: () => ProgressView, options: ProgressDisplayOptions = {}) {
    this.#stream = stream;
    this.#view = view;
    this.#tty = options.tty ?? stream.isTTY === true;
    this.#label = options.label ?? 'forestall';
    const every = this.#tty ? 1_000 : (options.plainIntervalMs ?? 5_000);
    this.#timer = setInterval(() => this.#tick(), every);
    // The display must never be what keeps the process alive.
    this.#timer.unref();
  }

  /** The counts changed: redraw soon (a terminal only; plain lines keep their pace). */
  update(): void {
    if (this.#stopped || !this.#tty) return;
    const now = performance.now();
    if (now - this.#lastDrawAt < REDRAW_MS) return;
    this.#draw();
  }

  /** Prints a message above the bar (or as a line of its own). */
  log(message: string): void {
    if (this.#tty && this.#drawn) this.#stream.write('\r\x1b[K');
    this.#stream.write(`${message}\n`);
    if (this.#tty && this.#drawn && !this.#stopped) this.#draw();
  }

  /** Draws the final counts and leaves the cursor on a fresh line; idempotent. */
  stop(): void {
    if (this.#stopped) return;
    clearInterval(this.#timer);
    if (this.#tty) {
      this.#draw();
      this.#stream.write('\n');
    } else {
      this.#printPlain();
    }
    this.#stopped = true;
  }

  #tick(): void {
    if (this.#stopped) return;
    if (this.#tty) this.#draw();
    else this.#printPlain();
  }

  #draw(): void {
    this.#lastDrawAt = performance.now();
    // Some terminals (and `script`) report no width: assume a common one.
    const columns = this.#stream.columns > 20 ? this.#stream.columns : 100;
    let line = `${this.#label}  ${progressLine(this.#view(), true)}`;
    // A line wider than the terminal wraps, and `\r` then redraws only its last part.
    if (line.length > columns - 1) line = line.slice(0, Math.max(10, columns - 1));
    this.#stream.write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }

  #printPlain(): void {
    const line = `${this.#label}: ${progressLine(this.#view(), false)}`;
    // Nothing new since the last line: say nothing rather than repeat it.
    if (line === this.#lastPrinted) return;
    this.#lastPrinted = line;
    this.#stream.write(`${line}\n`);
  }
}
