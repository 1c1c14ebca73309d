import type { AnsweredLease } from './answered-lease.js';
import type { ProviderName } from '../providers/types.js';
import { usageFromResponse } from '../providers/usage.js';

/*
 * How the fetch wrapper follows an ok JSON response to its end: it reconciles the usage the
 * response reports and releases the lease once the body has been received. Streams: see
 * watch-stream.ts.
 *
 * A copy of the body (`response.clone()`, a tee of its stream) costs about 50 µs a response, as
 * much as everything else the wrapper does. So the caller's own read is watched instead: the
 * response (the same object fetch returned) gets a prototype between it and `Response.prototype`
 * whose `json()`, `text()`, `arrayBuffer()`, `bytes()` and `blob()` hand the body to the wrapper
 * as they hand it to the caller. Only a caller that reaches for `body` or `clone()`, or has not
 * read the body by the next turn of the event loop, gets a copy read beside it, as does the
 * response of a fetch other than Node's own.
 */

const decoder = new TextDecoder();

/** The body readers watched, and how each one's result becomes the parsed JSON. */
const READERS = {
  json: async (value: unknown) => value,
  text: async (value: unknown) => JSON.parse(value as string) as unknown,
  arrayBuffer: async (value: unknown) => JSON.parse(decoder.decode(value as ArrayBuffer)) as unknown,
  bytes: async (value: unknown) => JSON.parse(decoder.decode(value as Uint8Array)) as unknown,
  blob: async (value: unknown) => JSON.parse(await (value as Blob).text()) as unknown,
} as const;

type Reader = keyof typeof READERS;

/** One watched response's lease, until its body has been read. */
class JsonWatch {
  #done = false;

  constructor(
    readonly lease: AnsweredLease,
    readonly provider: ProviderName,
  ) {}

  /** The caller read the body with `name`: its result is the JSON to reconcile from. */
  read(name: Reader, result: Promise<unknown>): void {
    if (this.#take()) this.#settle(result.then((value) => READERS[name](value)));
  }

  /** Reads a copy beside the caller, for a caller that reads in a way not watched. */
  copy(response: Response): void {
    if (!this.#take()) return;
    // Read already by a way not watched (the prototype's own method): nothing left to copy.
    if (response.bodyUsed) this.lease.release();
    else this.#settle((watches.has(response) ? cloneResponse.call(response) : response.clone()).json());
  }

  #take(): boolean {
    if (this.#done) return false;
    this.#done = true;
    return true;
  }

  /** Reconciles the usage of the JSON, or keeps the reservation should the body not be that; then releases. */
  #settle(json: Promise<unknown>): void {
    json
      .then(
        (value) => {
          const usage = usageFromResponse(value, this.provider);
          if (usage !== undefined) this.lease.reconcile(usage);
        },
        () => undefined,
      )
      .finally(() => this.lease.release());
  }
}

const watches = new WeakMap<Response, JsonWatch>();
const base = Response.prototype as unknown as Record<string, (this: Response) => Promise<unknown>>;
const cloneResponse = Response.prototype.clone;
const bodyGetter = Object.getOwnPropertyDescriptor(Response.prototype, 'body')?.get;

const WATCHED: object = Object.create(Response.prototype);
for (const name of Object.keys(READERS) as Reader[]) {
  const read = base[name];
  if (typeof read !== 'function') continue;
  Object.defineProperty(WATCHED, name, {
    configurable: true,
    writable: true,
    value(this: Response): Promise<unknown> {
      const result = read.call(this);
      watches.get(this)?.read(name, result);
      return result;
    },
  });
}
Object.defineProperty(WATCHED, 'clone', {
  configurable: true,
  writable: true,
  value(this: Response): Response {
    watches.get(this)?.copy(this);
    return cloneResponse.call(this);
  },
});
if (bodyGetter !== undefined) {
  Object.defineProperty(WATCHED, 'body', {
    configurable: true,
    get(this: Response) {
      watches.get(this)?.copy(this);
      return bodyGetter.call(this);
    },
  });
}

/** Watches the body of an ok JSON response as the caller reads it; returns the same response. */
export function watchJson(response: Response, lease: AnsweredLease, provider: ProviderName): Response {
  const watch = new JsonWatch(lease, provider);
  if (Object.getPrototypeOf(response) !== Response.prototype) {
    // Another fetch's response (node-fetch, a subclass): its own copy, read beside the caller.
    watch.copy(response);
    return response;
  }
  watches.set(response, watch);
  Object.setPrototypeOf(response, WATCHED);
  // Not read by the next turn (a caller that only looks at the status): read beside it, so the
  // slot is released once the body has arrived.
  setImmediate(() => watch.copy(response));
  return response;
}
