import { ADMIT } from './lua/admit.js';
import { FORGET, RECONCILE, RESTAMP, RESTORE } from './lua/entries.js';
import { RENEW } from './lua/leases.js';
import { LEARN_OTHERS } from './lua/others.js';
import { PAUSE, PROBE } from './lua/pause.js';
import type { RedisScript } from './lua/prelude.js';

/*
 * Every Lua script of the Redis store, in one place for the store and for tests and tools. Each
 * family lives in its own file under lua/; lua/prelude.ts says what all of them share.
 */

export { ADMIT, ADMIT_STATUS } from './lua/admit.js';
export { FORGET, RECONCILE, RESTAMP, RESTORE } from './lua/entries.js';
export { RENEW } from './lua/leases.js';
export { LEARN_OTHERS } from './lua/others.js';
export { PAUSE, PROBE } from './lua/pause.js';
export type { RedisScript } from './lua/prelude.js';

/** Every script, for tests and tools that count calls per script. */
export const SCRIPTS: readonly RedisScript[] = [
  ADMIT,
  RECONCILE,
  RESTAMP,
  FORGET,
  RENEW,
  PAUSE,
  PROBE,
  LEARN_OTHERS,
  RESTORE,
];
