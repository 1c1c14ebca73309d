import { describeValue } from '../internal/describe.js';
import { encodingForModel, loadEncoding, loadedEncoding } from './encoding.js';
import type { TokenEncodingName } from './encoding.js';
import { estimateTokensFast, utf8Length } from './fast-estimate.js';
import { guardedCounter } from './guarded-count.js';
import { countInWorker, startWorkerLoad, workerEnabled, workerReady } from './tokenizer-worker.js';

/**
 * How text is counted:
 * - `tiktoken`: the model's OpenAI encoding through js-tiktoken (loaded on first use, about 2 MB
 *   of ranks, in a worker thread); exact for OpenAI models apart from pathological pieces, an
 *   estimate for others.
 * - `fast`: {@link estimateTokensFast}, one token per four UTF-8 bytes; loads nothing.
 */
export type TokenCountMode = 'tiktoken' | 'fast';

/** Counts the strings of one request with one encoding. Internal. */
export interface TextCounter {
  count(text: string): Promise<number>;
}

const FAST_COUNTER: TextCounter = { count: async (text) => estimateTokensFast(text) };

/** What a count runs: an estimator that asks `counter` for every string it needs counted. */
export type CountRun<T> = (counter: TextCounter) => Promise<T>;

/*
 * Counting in the worker costs a message round trip, and an estimate asks for many strings one
 * after another (roles, contents, tool fields). So `run` goes twice: first with a counter that
 * only records the strings (answering each with `measure`: for `countEarly`, its UTF-8 size, which
 * no BPE count exceeds, a token being at least one byte), which are then counted in one message; then with one that answers
 * from those counts. Estimators are pure in the counts they get (they only add them up), so the
 * second pass asks for the same strings in the same order; should one ever differ, it is counted
 * on its own.
 */
async function recordTexts<T>(
  run: CountRun<T>,
  measure: (text: string) => number,
): Promise<{ bound: T; texts: string[] }> {
  const texts: string[] = [];
  const bound = await run({
    count: async (text) => {
      texts.push(text);
      return measure(text);
    },
  });
  return { bound, texts };
}

const nothing = (): number => 0;

async function answerFromWorker<T>(
  name: TokenEncodingName,
  texts: readonly string[],
  run: CountRun<T>,
): Promise<T | undefined> {
  const counts = texts.length === 0 ? [] : await countInWorker(name, texts);
  if (counts === undefined) return undefined;
  let next = 0;
  return run({
    count: async (text) => {
      if (next < texts.length && texts[next] === text) return counts[next++] as number;
      next = texts.length;
      const [one] = (await countInWorker(name, [text])) ?? [estimateTokensFast(text)];
      return one as number;
    },
  });
}

async function runInWorker<T>(name: TokenEncodingName, run: CountRun<T>): Promise<T | undefined> {
  const { texts } = await recordTexts(run, nothing);
  return answerFromWorker(name, texts, run);
}

/** A count at once, and the exact one when asked for. Internal. */
export interface EarlyCount<T> {
  /**
   * What the count cannot exceed (every string as its UTF-8 bytes), known before the exact count;
   * undefined when `exact()` answers as soon.
   */
  readonly bound: T | undefined;
  /**
   * The count `countWith` would give, never waiting for the tokenizer to load. Counted on the
   * first call (the worker is not asked before), shared by later ones; never rejects.
   */
  readonly exact: () => Promise<T>;
}

const once = <T>(start: () => Promise<T>): (() => Promise<T>) => {
  let started: Promise<T> | undefined;
  return () => {
    started ??= start();
    return started;
  };
};

/**
 * Like `countWith(model, mode, false, run)`, but with an upper bound known at once when the count
 * would go to the worker: a caller with room for the bound need not wait for the count, and need
 * not count at all when something better (the usage a response reports) comes first. Internal.
 */
export async function countEarly<T>(
  model: string | undefined,
  mode: TokenCountMode,
  run: CountRun<T>,
  fallback: () => T,
): Promise<EarlyCount<T>> {
  const here = (): Promise<T> => countWith(model, mode, false, run).catch(fallback);
  const name = mode === 'tiktoken' ? encodingForModel(model) : undefined;
  if (name === undefined || !workerEnabled() || !workerReady(name)) {
    const counted = here();
    return { bound: undefined, exact: () => counted };
  }
  const { bound, texts } = await recordTexts(run, utf8Length);
  if (texts.length === 0) return { bound: undefined, exact: () => Promise.resolve(bound) };
  const exact = once(() =>
    answerFromWorker(name, texts, run).then(
      (counted) => counted ?? here(),
      () => here(),
    ),
  );
  return { bound, exact };
}

/**
 * Runs `run` with a counter for `model` in `mode`: the fast estimate, or the encoding in the
 * tokenizer worker (on this thread where no worker can run). With `wait` false, a tokenizer that
 * is not loaded yet is not waited for: its load starts and `run` gets the fast estimate. Internal.
 */
export async function countWith<T>(
  model: string | undefined,
  mode: TokenCountMode,
  wait: boolean,
  run: CountRun<T>,
): Promise<T> {
  if (mode === 'fast') return run(FAST_COUNTER);
  const name = encodingForModel(model);
  if (workerEnabled()) {
    if (!wait && !workerReady(name)) {
      if (await startWorkerLoad(name)) return run(FAST_COUNTER);
    } else {
      try {
        const result = await runInWorker(name, run);
        if (result !== undefined) return result;
      } catch {
        // The worker failed on this input or died: count on this thread below.
      }
    }
  }
  const here = loadedEncoding(name);
  if (here !== undefined) return run(guardedCounter(here));
  if (!wait) {
    // Only when the worker is out for good: a worker that died is replaced by the next count.
    if (!workerEnabled()) loadEncoding(name).catch(() => undefined);
    return run(FAST_COUNTER);
  }
  return run(guardedCounter(await loadEncoding(name)));
}

/** Validates `mode`; `undefined` means `tiktoken`. Internal. */
export function countMode(name: string, value: unknown): TokenCountMode {
  if (value === undefined || value === 'tiktoken') return 'tiktoken';
  if (value === 'fast') return 'fast';
  const message = `Expected \`${name}\` to be "tiktoken" or "fast", got ${describeValue(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

/** Validates `wait`; `undefined` means `true`. Internal. */
export function waitOption(name: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describeValue(value)}`);
}

/** Validates an optional string option such as `model`. Internal. */
export function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new TypeError(`Expected \`${name}\` to be a string, got ${describeValue(value)}`);
}
