import type { Lease } from '../limiter/lease.js';
import type { ProviderName } from '../providers/types.js';
import { StreamUsageWatcher, usageFromResponse } from '../providers/usage.js';

/*
 * How the fetch wrapper follows an ok response to its end: it reconciles the usage the response
 * reports and releases the lease once the body has been received (JSON) or read, cancelled or
 * errored (streams).
 */

const unreleased = new FinalizationRegistry<Lease>((lease) => lease.release());

/**
 * Releases the lease (and reconciles the usage the stream reported) when the caller has read the
 * whole body, cancelled it, or it errored. Chunks pass one by one as the caller pulls them: no
 * buffering and no added delay.
 */
export function watchStream(response: Response, lease: Lease, provider: ProviderName): Response {
  const body = response.body;
  if (body === null) {
    lease.release();
    return response;
  }
  const reader = body.getReader();
  const watcher = new StreamUsageWatcher(provider);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    watcher.end();
    if (watcher.usage !== undefined) lease.reconcile(watcher.usage);
    lease.release();
    unreleased.unregister(lease);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
            return;
          }
          watcher.push(value);
          controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const wrapped = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: response.url });
  // A caller that never reads the body would hold the slot forever: release it when the response is collected.
  unreleased.register(wrapped, lease, lease);
  return wrapped;
}

/** Reads a copy of a JSON body in the background, reconciles its usage, then releases. */
export function watchJson(response: Response, lease: Lease, provider: ProviderName): Response {
  response
    .clone()
    .json()
    .then(
      (json: unknown) => {
        const usage = usageFromResponse(json, provider);
        if (usage !== undefined) lease.reconcile(usage);
      },
      () => undefined,
    )
    .finally(() => lease.release());
  return response;
}
