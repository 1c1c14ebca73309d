import type { AnsweredLease } from './answered-lease.js';
import type { ProviderName } from '../providers/types.js';
import { usageFromResponse } from '../providers/usage.js';

/*
 * How the fetch wrapper follows an ok JSON response to its end: it reconciles the usage the
 * response reports and releases the lease once the body has been received. Streams: see
 * watch-stream.ts.
 */

/** Reads a copy of a JSON body in the background, reconciles its usage, then releases. */
export function watchJson(response: Response, lease: AnsweredLease, provider: ProviderName): Response {
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
