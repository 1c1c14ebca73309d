import { BatchEngine } from './engine.js';
import {
  iteratorOf,
  resolveBatchOptions,
  type BatchOptions,
  type BatchResult,
  type BatchStreamResult,
  type BatchWorker,
} from './options.js';
import { RingDeque } from '../internal/ring-deque.js';
import { callable } from '../internal/validate.js';

export {
  DEFAULT_BATCH_CONCURRENCY,
  DEFAULT_BATCH_READ_AHEAD,
  type BatchAcquireOptions,
  type BatchOptions,
  type BatchResult,
  type BatchRetryOptions,
  type BatchStreamResult,
  type BatchWorker,
  type BatchWorkerContext,
} from './options.js';
export type { BatchProgress } from './progress.js';

/**
 * Runs `worker` over every item, at most `concurrency` at a time (16 by default), and resolves to
 * one result per item **in input order**: `{ ok: true, value }` or `{ ok: false, error }`. An
 * item's failure never rejects the call.
 *
 * `items` may be an array, an iterable or an async iterable; it is read lazily, never more than
 * `concurrency + readAhead` items ahead of the results. With `limiter`, each item (each attempt,
 * with `retry`) waits for its own lease, sized by `acquire`.
 *
 * Rejects, delivering nothing more:
 * - at once, for misuse (`items` not iterable, `worker` not a function, invalid options), with a
 *   `TypeError` or `RangeError` naming the option and the value;
 * - when `signal` aborts, with the signal's reason, once the items already running have finished
 *   (or, with `abortInFlight`, been aborted). Results are not lost: every item that finished was
 *   passed to `onResult` first (collect them there if you may abort);
 * - when the input throws, or `onResult` / `onProgress` throws, with that error.
 *
 * @example
 * const results = await runBatch(prompts, async (prompt, { signal, lease }) => {
 *   const completion = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: prompt }] }, { signal });
 *   lease?.reconcile(completion.usage?.total_tokens ?? 0);
 *   return completion.choices[0]?.message.content;
 * }, { limiter, acquire: { tokens: 1_200 }, retry: { maxAttempts: 4 }, onProgress: (p) => console.log(`${p.done}/${p.total}`) });
 * for (const [i, r] of results.entries()) console.log(i, r.ok ? r.value : r.error);
 */
export async function runBatch<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  worker: BatchWorker<T, R>,
  options: BatchOptions<T, R> = {},
): Promise<BatchResult<R>[]> {
  callable('worker', worker);
  const o = resolveBatchOptions(options);
  const source = iteratorOf<T>(items);
  const length = Array.isArray(items) ? items.length : undefined;
  const results: BatchResult<R>[] = length === undefined ? [] : new Array<BatchResult<R>>(length);
  const engine = new BatchEngine<T, R>(source, worker, o, (index, result) => (results[index] = result), false, length);
  engine.start();
  await engine.settled;
  return results;
}

/**
 * Runs `worker` over every item like {@link runBatch}, but yields each result as soon as it
 * finishes (**completion order**; `index` is the item's position in the input), for inputs too
 * large to keep in memory:
 *
 * ```ts
 * for await (const r of streamBatch(readLines('requests.jsonl'), worker, { limiter })) {
 *   if (r.ok) await output.write(`${JSON.stringify(r.value)}\n`);
 * }
 * ```
 *
 * Memory stays bounded: a result holds its worker slot until the loop takes it, so a slow loop
 * slows the reading, and at most `concurrency + readAhead` items are ever read and not yet taken.
 * The batch starts on the first iteration.
 *
 * Leaving the loop early (`break`, `return`, an exception) stops the batch: nothing more starts,
 * running workers' signals are aborted, and the loop exits once they have settled. An aborted
 * `signal` yields the items still finishing, then throws the signal's reason. Misuse throws at once,
 * from this call.
 */
export function streamBatch<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  worker: BatchWorker<T, R>,
  options: BatchOptions<T, R> = {},
): AsyncGenerator<BatchStreamResult<R>, void, undefined> {
  callable('worker', worker);
  const o = resolveBatchOptions(options);
  const source = iteratorOf<T>(items);
  const length = Array.isArray(items) ? items.length : undefined;

  async function* results(): AsyncGenerator<BatchStreamResult<R>, void, undefined> {
    const ready = new RingDeque<BatchStreamResult<R>>();
    let wake: (() => void) | undefined;
    let outcome: { readonly error: unknown } | 'done' | undefined;
    const engine = new BatchEngine<T, R>(
      source,
      worker,
      o,
      (index, result) => {
        ready.push(result.ok ? { index, ok: true, value: result.value } : { index, ok: false, error: result.error });
        wake?.();
      },
      true,
      length,
    );
    engine.settled.then(
      () => {
        outcome = 'done';
        wake?.();
      },
      (error: unknown) => {
        outcome = { error };
        wake?.();
      },
    );
    engine.start();
    try {
      for (;;) {
        const next = ready.shift();
        if (next !== undefined) {
          engine.release();
          yield next;
          continue;
        }
        if (outcome === 'done') return;
        if (outcome !== undefined) throw outcome.error;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      if (outcome === undefined) {
        engine.stop(new DOMException('The consumer stopped iterating the batch', 'AbortError'), true);
        await engine.settled.catch(() => undefined);
      }
    }
  }

  return results();
}
