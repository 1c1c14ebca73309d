import { AMOUNTS, PRELUDE, script } from './prelude.js';

/* Scripts that change what an admission left behind: its token charge, or its entry and lease. */

/**
 * Replaces an entry's token charge; the entry keeps its start. A no-op for an entry that has left
 * every window (or was cancelled).
 *
 * KEYS: log, amt. ARGV: id, input, output. Reply: 1 if charged, 0 if the entry is gone.
 */
export const RECONCILE = script(
  'reconcile',
  `${PRELUDE}${AMOUNTS}
local log, amt = KEYS[1], KEYS[2]
local id = ARGV[1]
if not redis.call('ZSCORE', log, id) then return 0 end
local old_in, old_out = parse_amount(redis.call('HGET', amt, id))
local new_in, new_out = tonumber(ARGV[2]), tonumber(ARGV[3])
if new_in + new_out > 0 then
  redis.call('HSET', amt, id, ARGV[2] .. ',' .. ARGV[3])
else
  redis.call('HDEL', amt, id)
end
shift_totals(amt, new_in - old_in, new_out - old_out)
local ttl = redis.call('PTTL', log)
if ttl > 0 then redis.call('PEXPIRE', amt, ttl) end
return 1
`,
);

/**
 * Moves an entry's start later: it counts from when the request reached the provider, not from
 * its admission (`lease.restamp`). `ago` says how long before now (the server's clock, read here)
 * the new start was, so every process counts it alike. Never earlier than its admission, never
 * later than now; its keys live on for as long as it moved.
 *
 * KEYS: log, amt, clock. ARGV: id, ago (microseconds). Reply: 1 if moved, 0 if not (gone, or no later).
 */
export const RESTAMP = script(
  'restamp',
  `${PRELUDE}
local log, amt, clock_key = KEYS[1], KEYS[2], KEYS[3]
local id = ARGV[1]
local old = tonumber(redis.call('ZSCORE', log, id))
if not old then return 0 end
local new = now_us(clock_key) - tonumber(ARGV[2])
if new <= old then return 0 end
redis.call('ZADD', log, 'XX', fmt(new), id)
local ttl = redis.call('PTTL', log)
if ttl > 0 then
  local ms = string.format('%d', ttl + math.ceil((new - old) / 1000))
  redis.call('PEXPIRE', log, ms)
  if redis.call('EXISTS', amt) == 1 then redis.call('PEXPIRE', amt, ms) end
end
return 1
`,
);

/**
 * Forgets entries and leases: the first `count` ids lose their log entry, token charge and lease
 * (a cancelled request, a withdrawn booking, an admission whose answer was lost), the rest only
 * their lease (a release).
 *
 * KEYS: log, amt, conc. ARGV: count, ids... Reply: how many log entries and leases were removed.
 */
export const FORGET = script(
  'forget',
  `${PRELUDE}${AMOUNTS}
local log, amt, conc = KEYS[1], KEYS[2], KEYS[3]
local count = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if i - 1 <= count then removed = removed + forget_entry(log, amt, id) end
  removed = removed + redis.call('ZREM', conc, id)
end
if count > 0 then settle_totals(log, amt) end
return removed
`,
);
