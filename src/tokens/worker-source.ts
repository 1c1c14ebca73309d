import { utf8Length } from './fast-estimate.js';
import { makeGuardedCounter } from './guarded-count.js';

/*
 * The tokenizer worker's program, evaluated with `new Worker(source, { eval: true })`. A string
 * rather than a file: it runs the same from the TypeScript sources (vitest, tsx) and from both
 * builds in dist/, where tsup would neither emit nor locate a separate worker file. It is plain
 * CommonJS with no imports of its own: js-tiktoken's files arrive as absolute paths in
 * `workerData`, resolved next to this module by the thread that starts it, and the counting code
 * is the source text of `makeGuardedCounter` and `utf8Length`, so both threads count alike.
 *
 * Messages in: `{ type: 'load', encoding }` and `{ type: 'count', id, encoding, groups }`: the
 * counts asked for in one turn of the calling thread, one group of texts per request estimate.
 * Messages out: `{ type: 'loaded', encoding, error? }` and `{ type: 'counted', id, counts?, error? }`,
 * `counts` one array per group.
 */

/** What the starting thread passes in `workerData`. Internal. */
export interface TokenizerWorkerData {
  /** Absolute path of `js-tiktoken/lite` (CommonJS build). */
  readonly lite: string;
  /** Absolute path of each encoding's rank module (CommonJS build). */
  readonly ranks: Readonly<Record<string, string>>;
}

/** A message to the worker. Internal. */
export type ToWorker =
  | { readonly type: 'load'; readonly encoding: string }
  | {
      readonly type: 'count';
      readonly id: number;
      readonly encoding: string;
      readonly groups: readonly (readonly string[])[];
    };

/** A message from the worker. Internal. */
export type FromWorker =
  | { readonly type: 'loaded'; readonly encoding: string; readonly error?: string }
  | { readonly type: 'counted'; readonly id: number; readonly counts?: number[][]; readonly error?: string };

const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const { Tiktoken } = require(workerData.lite);
const encoders = new Map();
function load(name) {
  let loaded = encoders.get(name);
  if (loaded === undefined) {
    const file = workerData.ranks[name];
    if (file === undefined) throw new Error('Unknown encoding ' + name);
    const mod = require(file);
    const ranks = mod && mod.default ? mod.default : mod;
    const encoder = new Tiktoken(ranks);
    // Only encode runs here: drop decode's table (a Uint8Array per token) and the rank text.
    if (encoder.textMap instanceof Map) encoder.textMap.clear();
    delete require.cache[file];
    loaded = { encode: (text) => encoder.encode(text, [], []).length, pattern: ranks.pat_str };
    encoders.set(name, loaded);
    collect();
  }
  return loaded;
}
/*
 * Constructing an encoder leaves ~100 MB of garbage (the split rank text, an object of every
 * token) that an idle worker would otherwise keep for its whole life: collect it once, with a gc
 * function of this worker's own (the flag is set back at once; as Jest does for --logHeapUsage).
 */
function collect() {
  try {
    let gc = globalThis.gc;
    if (typeof gc !== 'function') {
      const v8 = require('node:v8');
      v8.setFlagsFromString('--expose-gc');
      try {
        gc = require('node:vm').runInNewContext('gc');
      } finally {
        v8.setFlagsFromString('--no-expose-gc');
      }
    }
    if (typeof gc === 'function') gc();
  } catch {}
}
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const messageOf = (error) => (error && error.message) || String(error);
parentPort.on('message', async (message) => {
  if (message.type === 'load') {
    try {
      load(message.encoding);
      parentPort.postMessage({ type: 'loaded', encoding: message.encoding });
    } catch (error) {
      parentPort.postMessage({ type: 'loaded', encoding: message.encoding, error: messageOf(error) });
    }
    return;
  }
  try {
    const { encode, pattern } = load(message.encoding);
    const counts = [];
    for (const texts of message.groups) {
      // One guarded counter (one sampling budget) per request estimate, as on the calling thread.
      const counter = makeGuardedCounter(encode, pattern, utf8Length, nextTurn);
      const group = [];
      for (const text of texts) group.push(await counter.count(text));
      counts.push(group);
    }
    parentPort.postMessage({ type: 'counted', id: message.id, counts });
  } catch (error) {
    parentPort.postMessage({ type: 'counted', id: message.id, error: messageOf(error) });
  }
});
`;

let source: string | undefined;

/** The worker's program text. Internal. */
export function tokenizerWorkerSource(): string {
  // __name: tsx compiles with esbuild's keepNames, which wraps nested functions in __name(…) calls.
  source ??= [
    "'use strict';",
    'var __name = (target) => target;',
    `const utf8Length = (${utf8Length.toString()});`,
    `const makeGuardedCounter = (${makeGuardedCounter.toString()});`,
    PROGRAM,
  ].join('\n');
  return source;
}
