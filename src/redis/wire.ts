/*
 * How the store's numbers travel to the scripts: the scripts count integer microseconds on the
 * server's clock, and take ids in batches small enough for Lua's argument limits.
 */

/** Added to every key's expiry, so a key outlives its last entry despite clock differences. */
export const SLACK_US = 5_000_000;

/** Ids sent per FORGET or RENEW call, well inside Lua's argument limits. */
export const BATCH = 1_000;

/** Milliseconds as the scripts' integer microseconds. */
export const us = (ms: number): string => String(Math.round(ms * 1_000));
