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

/**
 * Writes back, after an outage, this process's admissions still in their windows: those Redis had
 * made (lost if the server restarted) and those the local share made meanwhile, each under its id
 * with its start (`ago` before now, the server's clock) and its charge as it stands; an id Redis
 * still has is left as it is. Then the concurrency leases this process still holds.
 *
 * KEYS: log, amt, conc, clock. ARGV: span (the longest window, margin included), lease ttl, slack
 * (microseconds), n, then n (id, ago, input, output) quadruples, then lease ids. Reply: how many
 * entries were added.
 */
export const RESTORE = script(
  'restore',
  `${PRELUDE}${AMOUNTS}
local log, amt, conc, clock_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local span, ttl, slack = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local now = now_us(clock_key)
local function extend(key, us)
  local ms = math.ceil(us / 1000)
  local current = redis.call('PTTL', key)
  if current ~= -1 and current < ms then redis.call('PEXPIRE', key, string.format('%d', ms)) end
end
local added = 0
for k = 0, n - 1 do
  local i = 5 + 4 * k
  local id, start = ARGV[i], now - tonumber(ARGV[i + 1])
  if start + span > now and not redis.call('ZSCORE', log, id) then
    redis.call('ZADD', log, fmt(start), id)
    local a, b = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    if a + b > 0 then
      redis.call('HSET', amt, id, ARGV[i + 2] .. ',' .. ARGV[i + 3])
      shift_totals(amt, a, b)
    end
    added = added + 1
  end
end
if added > 0 then
  extend(log, span + slack)
  extend(amt, span + slack)
end
local leases = 0
for i = 5 + 4 * n, #ARGV do
  if not redis.call('ZSCORE', conc, ARGV[i]) then
    redis.call('ZADD', conc, fmt(now + ttl), ARGV[i])
    leases = leases + 1
  end
end
if leases > 0 then extend(conc, ttl + slack) end
return added
`,
);
