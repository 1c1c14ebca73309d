import { nonNegativeNumber, plainObject } from '../internal/validate.js';
import { encodingForModel, loadEncoding } from './encoding.js';
import { awaitWorkerLoad, setWorkerIdleMs, workerEnabled } from './tokenizer-worker.js';

/** Options of {@link preloadTokenizer}. */
export interface PreloadTokenizerOptions {
  /** Load the encoding this model uses (see {@link encodingForModel}). @default the `o200k_base` encoding */
  readonly model?: string | undefined;
  /**
   * Terminate the tokenizer worker after this many milliseconds without a count, freeing its
   * memory; the next count starts it again (and, with `wait: false`, is a fast estimate until it
   * has loaded). `Infinity` keeps it loaded for the life of the process. Applies from now on, to
   * every later count. @default 60000
   */
  readonly idleTimeoutMs?: number | undefined;
}

/**
 * Loads the tokenizer now, in its worker thread, so the first count on a request path finds it
 * ready. Never blocks the event loop: o200k_base takes 0.6-1 s of the worker's time (cl100k_base
 * about half) while this thread goes on serving. Optional: counting loads it on first use anyway,
 * concurrent first calls share one load, and with `wait: false` counts never wait for it.
 *
 * The loaded tokenizer costs about 180 MB of RSS (o200k_base, in the worker) and next to nothing
 * of this thread's heap. Where no worker can run, it loads on this thread instead (blocking it,
 * about 100 MB of heap).
 */
export async function preloadTokenizer(options: PreloadTokenizerOptions = {}): Promise<void> {
  const o = plainObject('options', options);
  if (o.idleTimeoutMs !== undefined) {
    setWorkerIdleMs(o.idleTimeoutMs === Infinity ? Infinity : nonNegativeNumber('idleTimeoutMs', o.idleTimeoutMs));
  }
  const name = encodingForModel(typeof o.model === 'string' ? o.model : undefined);
  if (workerEnabled()) {
    try {
      if (await awaitWorkerLoad(name)) return;
    } catch {
      // The worker failed: load on this thread, where counting falls back to.
    }
  }
  await loadEncoding(name);
}
