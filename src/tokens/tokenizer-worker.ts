import type { Worker } from 'node:worker_threads';
import type { TokenEncodingName } from './encoding.js';
import type { FromWorker, ToWorker, TokenizerWorkerData } from './worker-source.js';
import { tokenizerWorkerSource } from './worker-source.js';

/*
 * The tokenizer runs in one `node:worker_threads` Worker: importing o200k_base's 2.3 MB rank module
 * and constructing the encoder takes 0.6-1 s of CPU and ~100 MB of heap, which on the calling
 * thread would freeze a server's event loop for all of that. The worker loads each encoding on
 * first use and answers batches of strings with their counts; the calling thread only posts
 * messages, so nothing here blocks it for more than a couple of milliseconds.
 *
 * Lifetime: the worker is `unref()`ed whenever no caller is waiting for it, so it never keeps a
 * finished process alive, and `ref()`ed while one is (so `await countTokens(…)` at the top level
 * of a script does not see the process exit under it). After IDLE_MS without a count it is
 * terminated, freeing its memory; the next count starts a new one.
 *
 * If no worker can run (no `node:worker_threads`, js-tiktoken bundled away so it cannot be
 * resolved, or the worker fails), counting falls back to this thread (see text-counter.ts).
 */

/** How long the worker stays loaded after its last count. */
const DEFAULT_IDLE_MS = 60_000;

// Captured at load, so fake timers installed later (tests) cannot hold the worker alive.
const setTimeoutAtLoad = setTimeout;
const clearTimeoutAtLoad = clearTimeout;

interface Pending {
  readonly resolve: (counts: number[][]) => void;
  readonly reject: (error: Error) => void;
}

/** Counts asked for in one turn, sent as one message when the turn ends. */
interface Batch {
  readonly groups: (readonly string[])[];
  readonly waiting: { readonly resolve: (counts: number[]) => void; readonly reject: (error: Error) => void }[];
}

interface Host {
  readonly worker: Worker;
  /** One promise per encoding asked for; settled when the worker answers `loaded`. */
  readonly loads: Map<TokenEncodingName, { promise: Promise<void>; settle: (error?: string) => void }>;
  readonly ready: Set<TokenEncodingName>;
  readonly pending: Map<number, Pending>;
  /** Per encoding, the counts of the current turn not yet posted. */
  readonly batches: Map<TokenEncodingName, Batch>;
  /** Callers waiting on this worker (loads awaited and counts in flight): ref()ed while > 0. */
  waiters: number;
  idle: ReturnType<typeof setTimeout> | undefined;
  /** Terminate as soon as nothing waits (releaseTokenizer). */
  releasing: boolean;
  dead: boolean;
}

let host: Host | undefined;
let starting: Promise<Host | undefined> | undefined;
/** Set when no worker could start or one failed: count on this thread from then on. */
let failed = false;
/** Internal switch for tests and benchmarks that measure the calling-thread path. */
let enabled = true;
let idleMs = DEFAULT_IDLE_MS;
let nextId = 1;

/** Whether counts go to the worker (else they run on this thread). Internal. */
export function workerEnabled(): boolean {
  return enabled && !failed;
}

/** Turns the worker off (`false`: count on this thread, as before) or back on. Internal, for tests. */
export function setWorkerEnabled(value: boolean): void {
  enabled = value;
}

/** Sets how long an unused worker stays loaded; `Infinity` keeps it. Internal. */
export function setWorkerIdleMs(ms: number): void {
  idleMs = ms;
}

/** Whether the worker has `name` loaded, so a count would not wait for it. Internal. */
export function workerReady(name: TokenEncodingName): boolean {
  return host !== undefined && !host.dead && host.ready.has(name);
}

/** The file this module runs from, to resolve js-tiktoken next to it: CommonJS or ESM build. */
function moduleFile(): string | undefined {
  if (typeof __filename === 'string' && __filename !== '') return __filename;
  // The CommonJS build empties `import.meta`; it has `__filename` above.
  const url = (import.meta as { url?: string } | undefined)?.url;
  return typeof url === 'string' ? url : undefined;
}

async function spawn(): Promise<Host | undefined> {
  try {
    const base = moduleFile();
    if (base === undefined) return undefined;
    const [{ createRequire }, { Worker }] = await Promise.all([import('node:module'), import('node:worker_threads')]);
    const require = createRequire(base);
    const workerData: TokenizerWorkerData = {
      lite: require.resolve('js-tiktoken/lite'),
      ranks: {
        o200k_base: require.resolve('js-tiktoken/ranks/o200k_base'),
        cl100k_base: require.resolve('js-tiktoken/ranks/cl100k_base'),
      },
    };
    // No execArgv: the program is plain CommonJS and needs no loader (nor the parent's --inspect).
    const worker = new Worker(tokenizerWorkerSource(), { eval: true, workerData, execArgv: [] });
    worker.unref();
    const h: Host = {
      worker,
      loads: new Map(),
      ready: new Set(),
      pending: new Map(),
      batches: new Map(),
      waiters: 0,
      idle: undefined,
      releasing: false,
      dead: false,
    };
    worker.on('message', (message: FromWorker) => onMessage(h, message));
    worker.on('error', (error: Error) => shutDown(h, error));
    worker.on('exit', () => shutDown(h, new Error('The tokenizer worker exited')));
    return h;
  } catch {
    return undefined;
  }
}

function onMessage(h: Host, message: FromWorker): void {
  if (message.type === 'loaded') {
    const name = message.encoding as TokenEncodingName;
    if (message.error === undefined) h.ready.add(name);
    h.loads.get(name)?.settle(message.error);
    return;
  }
  const pending = h.pending.get(message.id);
  if (pending === undefined) return;
  h.pending.delete(message.id);
  if (message.counts !== undefined) pending.resolve(message.counts);
  else pending.reject(new Error(`Token counting failed in the tokenizer worker: ${message.error ?? 'no answer'}`));
}

/**
 * The worker is gone: fail what waits on it (those callers count on this thread). One that died
 * before loading anything cannot run here: count on this thread from now on. One that died later
 * is replaced by the next count.
 */
function shutDown(h: Host, error: Error): void {
  if (h.dead) return;
  h.dead = true;
  if (host === h) host = undefined;
  if (h.idle !== undefined) clearTimeoutAtLoad(h.idle);
  if (!h.releasing && h.ready.size === 0) failed = true;
  for (const { settle } of h.loads.values()) settle(error.message);
  for (const pending of h.pending.values()) pending.reject(error);
  h.pending.clear();
}

function terminate(h: Host): void {
  h.releasing = true;
  shutDown(h, new Error('The tokenizer worker was released'));
  h.worker.terminate().catch(() => undefined);
}

function hold(h: Host): void {
  if (h.idle !== undefined) {
    clearTimeoutAtLoad(h.idle);
    h.idle = undefined;
  }
  if (h.waiters++ === 0) h.worker.ref();
}

function letGo(h: Host): void {
  if (--h.waiters > 0 || h.dead) return;
  h.worker.unref();
  if (h.releasing) terminate(h);
  else if (Number.isFinite(idleMs)) {
    h.idle = setTimeoutAtLoad(() => {
      if (h.waiters === 0) terminate(h);
    }, idleMs);
    (h.idle as { unref?: () => void }).unref?.();
  }
}

async function currentHost(): Promise<Host | undefined> {
  if (host !== undefined && !host.dead) return host;
  starting ??= spawn().then((h) => {
    starting = undefined;
    if (h === undefined) failed = true;
    else host = h;
    return h;
  });
  return starting;
}

function loadIn(h: Host, name: TokenEncodingName): Promise<void> {
  let load = h.loads.get(name);
  if (load === undefined) {
    let settle!: (error?: string) => void;
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(new Error(`Loading ${name} failed: ${error}`)));
    });
    load = { promise, settle };
    h.loads.set(name, load);
    promise.catch(() => {
      // A failed load is forgotten, so a later call asks again.
      if (h.loads.get(name)?.promise === promise) h.loads.delete(name);
    });
    const message: ToWorker = { type: 'load', encoding: name };
    h.worker.postMessage(message);
  }
  return load.promise;
}

/**
 * Starts loading `name` in the worker without waiting for it (nothing is held alive for it).
 * Resolves `false` when no worker can run. Internal.
 */
export async function startWorkerLoad(name: TokenEncodingName): Promise<boolean> {
  const h = await currentHost();
  if (h === undefined) return false;
  loadIn(h, name).catch(() => undefined);
  if (h.waiters === 0 && h.idle === undefined) {
    hold(h);
    letGo(h); // starts the idle clock
  }
  return true;
}

/**
 * Waits until the worker has `name` loaded. Resolves `false` when no worker can run; rejects when
 * the load failed. Internal.
 */
export async function awaitWorkerLoad(name: TokenEncodingName): Promise<boolean> {
  const h = await currentHost();
  if (h === undefined) return false;
  hold(h);
  try {
    await loadIn(h, name);
    return true;
  } finally {
    letGo(h);
  }
}

/**
 * Counts `texts` in order with one guarded counter (one sampling budget, as one request estimate
 * on this thread would), loading `name` first if needed. Resolves `undefined` when no worker can
 * run. Internal.
 */
export async function countInWorker(name: TokenEncodingName, texts: readonly string[]): Promise<number[] | undefined> {
  const h = await currentHost();
  if (h === undefined) return undefined;
  hold(h);
  try {
    await loadIn(h, name);
    return await enqueue(h, name, texts);
  } finally {
    letGo(h);
  }
}

/**
 * Adds `texts` to this turn's batch for `name`: a thousand requests estimated at once cost one
 * round trip to the worker, not a thousand (and the answers come back together, in order).
 */
function enqueue(h: Host, name: TokenEncodingName, texts: readonly string[]): Promise<number[]> {
  let batch = h.batches.get(name);
  if (batch === undefined) {
    const created: Batch = { groups: [], waiting: [] };
    batch = created;
    h.batches.set(name, created);
    queueMicrotask(() => post(h, name, created));
  }
  const { groups, waiting } = batch;
  return new Promise<number[]>((resolve, reject) => {
    groups.push(texts);
    waiting.push({ resolve, reject });
  });
}

function post(h: Host, name: TokenEncodingName, batch: Batch): void {
  if (h.batches.get(name) === batch) h.batches.delete(name);
  const fail = (error: Error): void => {
    for (const w of batch.waiting) w.reject(error);
  };
  if (h.dead) {
    fail(new Error('The tokenizer worker exited'));
    return;
  }
  const id = nextId++;
  h.pending.set(id, {
    resolve: (counts) => {
      for (const [i, w] of batch.waiting.entries()) w.resolve(counts[i] ?? []);
    },
    reject: fail,
  });
  const message: ToWorker = { type: 'count', id, encoding: name, groups: batch.groups };
  h.worker.postMessage(message);
}

/**
 * Terminates the tokenizer worker once no count waits on it, freeing its memory (about 180 MB of
 * RSS with o200k_base loaded). Optional: an unused worker is terminated after a minute anyway, and
 * it never keeps a process alive. The next count starts a new one.
 */
export async function releaseTokenizer(): Promise<void> {
  const h = host ?? (starting === undefined ? undefined : await starting);
  if (h === undefined || h.dead) return;
  h.releasing = true;
  if (h.waiters > 0) {
    // Terminated by the last letGo; resolve when it is gone.
    await new Promise<void>((resolve) => h.worker.once('exit', () => resolve()));
    return;
  }
  const exited = new Promise<void>((resolve) => h.worker.once('exit', () => resolve()));
  terminate(h);
  await exited;
}
