import { AMOUNTS, OTHERS, PRELUDE, script } from './prelude.js';

/** Status codes of the admit script's first reply element. */
export const ADMIT_STATUS = {
  /** Admitted now (or confirmed): `at` is the entry's start. */
  admitted: 1,
  /** A future slot was booked: `at` is its start. */
  booked: 2,
  /** Nothing taken: ask again at `at`. */
  wait: 3,
  /** The cost exceeds a whole budget: it can never fit. */
  tooLarge: 4,
} as const;

/**
 * Admission: every request window, token budget, the concurrency leases and the pause, in one step.
 *
 * KEYS: log (zset id -> start), amt (hash id -> "input,output"), conc (zset lease id -> expiry),
 * pause (string: until), clock (string: last time seen), peers (zset store id -> last seen),
 * others (hash window -> others' share, see OTHERS in prelude.ts): each window admits only what
 * its limit leaves beside the share in force, and its usage counts the share.
 *
 * ARGV: id, input, output, flags (1 = may book a future slot, 2 = a booking also takes its
 * concurrency lease, 4 = replace: drop this id's old entry and admit afresh), concurrency (-1 =
 * unlimited), lease ttl, poll, late (all microseconds), slack (microseconds added to every key
 * expiry), peer id, peer horizon (microseconds), then the request windows as a count followed by
 * (limit, span) pairs, then the token windows as a count followed by (dimension 0 = input + output,
 * 1 = input, 2 = output; limit; span) triples. Spans include the margin.
 *
 * Reply: { status, now, at, pausedUntil, leasesInUse, peers, usage... } where usage, present only
 * when the windows were evaluated, is one count per request window then one sum (a string, as
 * token amounts need not be whole) per token window: exact when the budget was close to its
 * limit, otherwise the total of the whole log, which bounds it (and equals it for the longest
 * window when no slot is booked ahead).
 *
 * A booked slot is an ordinary log entry whose start lies in the future, so every process counts
 * it at once. New entries never start before the newest one (bookings are first come, first
 * served), which keeps "the limit-th newest start plus the window" the right answer for requests
 * and a walk from the oldest entry the right one for tokens.
 */
export const ADMIT = script(
  'admit',
  `${PRELUDE}${AMOUNTS}${OTHERS}
local log, amt, conc, pause_key, clock_key, peers_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local others_key = KEYS[7]
local id, input_text, output_text = ARGV[1], ARGV[2], ARGV[3]
local input, output = tonumber(input_text), tonumber(output_text)
local flags = tonumber(ARGV[4])
local may_book = flags % 2 == 1
local lease_on_booking = math.floor(flags / 2) % 2 == 1
local replace = math.floor(flags / 4) % 2 == 1
local concurrency = tonumber(ARGV[5])
local lease_ttl, poll, late, slack = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local peer, peer_horizon = ARGV[10], tonumber(ARGV[11])
local i = 12
local n_req = tonumber(ARGV[i]); i = i + 1
local req = {}
local max_span = 0
for r = 1, n_req do
  req[r] = { tonumber(ARGV[i]), tonumber(ARGV[i + 1]), 'r:' .. ARGV[i] .. ':' .. ARGV[i + 1] }
  if req[r][2] > max_span then max_span = req[r][2] end
  i = i + 2
end
local n_tok = tonumber(ARGV[i]); i = i + 1
local tok = {}
local max_tok_span = 0
for k = 1, n_tok do
  tok[k] = { tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), 't:' .. ARGV[i] .. ':' .. ARGV[i + 1] .. ':' .. ARGV[i + 2] }
  if tok[k][3] > max_tok_span then max_tok_span = tok[k][3] end
  i = i + 3
end
if max_tok_span > max_span then max_span = max_tok_span end
local uses_log = n_req + n_tok > 0
local limited = concurrency >= 0

local now = now_us(clock_key)
redis.call('SET', clock_key, fmt(now), 'PX', string.format('%d', math.ceil((max_span + lease_ttl + slack) / 1000)))

redis.call('ZADD', peers_key, fmt(now), peer)
redis.call('ZREMRANGEBYSCORE', peers_key, '-inf', fmt(now - peer_horizon))
expire_ms(peers_key, peer_horizon + slack)
local peers = redis.call('ZCARD', peers_key)

-- Starts that have left every window (a start at t counts until t + span, exclusive).
if uses_log then
  local horizon = fmt(now - max_span)
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', horizon)
  if #old > 0 then
    local gone_in, gone_out = 0, 0
    for c = 1, #old, 1000 do
      local last = math.min(c + 999, #old)
      local values = redis.call('HMGET', amt, unpack(old, c, last))
      for v = 1, #values do
        local a, b = parse_amount(values[v])
        gone_in, gone_out = gone_in + a, gone_out + b
      end
      redis.call('HDEL', amt, unpack(old, c, last))
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', horizon)
    shift_totals(amt, -gone_in, -gone_out)
    settle_totals(log, amt)
  end
end
-- Leases nobody renewed: their holder crashed or lost Redis for longer than the ttl.
redis.call('ZREMRANGEBYSCORE', conc, '-inf', fmt(now))
local paused = tonumber(redis.call('GET', pause_key)) or 0

local function in_use() return redis.call('ZCARD', conc) end
local function reply(status, at, usage)
  local out = { status, now, at, paused, in_use(), peers }
  if usage ~= nil then for u = 1, #usage do out[#out + 1] = usage[u] end end
  return out
end
local function drop(x)
  forget_entry(log, amt, x)
  settle_totals(log, amt)
  redis.call('ZREM', conc, x)
end
local function take_lease(from)
  redis.call('ZADD', conc, fmt(from + lease_ttl), id)
  local last = redis.call('ZRANGE', conc, -1, -1, 'WITHSCORES')
  expire_ms(conc, tonumber(last[2]) - now + slack)
end
local function concurrency_full()
  if not limited or in_use() < concurrency then return false end
  -- Another process holds the slots and will not tell us when one frees: look again soon,
  -- or when the first lease expires if that is sooner.
  local first = redis.call('ZRANGE', conc, 0, 0, 'WITHSCORES')
  local retry = now + poll
  if first[2] ~= nil and tonumber(first[2]) < retry then retry = tonumber(first[2]) end
  if paused > retry then retry = paused end
  return retry
end

-- The same id again: a booking coming due, a resend after a reconnect, or a stale booking.
local existing = nil
if uses_log then existing = tonumber(redis.call('ZSCORE', log, id)) end
if existing == nil and limited and not uses_log and redis.call('ZSCORE', conc, id) then
  return reply(${ADMIT_STATUS.admitted}, now)
end
if existing ~= nil then
  if replace then
    drop(id)
  elseif existing > now then
    return reply(${ADMIT_STATUS.booked}, existing)
  elseif redis.call('ZSCORE', conc, id) then
    return reply(${ADMIT_STATUS.admitted}, existing)
  elseif paused > now or now - existing > late then
    -- A pause came after the booking, or the booking is too old to be the request's start.
    drop(id)
  else
    local retry = concurrency_full()
    if retry then
      drop(id)
      return reply(${ADMIT_STATUS.wait}, retry)
    end
    if limited then take_lease(now) end
    return reply(${ADMIT_STATUS.admitted}, existing)
  end
end

local at = now
if paused > at then at = paused end
if not uses_log then
  local retry = concurrency_full()
  if retry then return reply(${ADMIT_STATUS.wait}, retry) end
  if at > now then return reply(${ADMIT_STATUS.wait}, at) end
  if limited then take_lease(now) end
  return reply(${ADMIT_STATUS.admitted}, now)
end

local newest = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')
if newest[2] ~= nil and tonumber(newest[2]) > at then at = tonumber(newest[2]) end
local base = at
local usage = {}

-- Others' shares in force, by window (usually none: one read of an empty hash).
local shares = {}
local share_rows = redis.call('HGETALL', others_key)
for s = 1, #share_rows, 2 do shares[share_rows[s]] = share_rows[s + 1] end
local function share_of(field)
  local value = shares[field]
  if value == nil then return 0, now end
  local list, headroom = others_parse(value)
  return others_level(list, headroom, now)
end

for r = 1, n_req do
  local limit, span = req[r][1], req[r][2]
  local theirs, lapse = share_of(req[r][3])
  local count = redis.call('ZCOUNT', log, '(' .. fmt(base - span), '+inf')
  usage[r] = count + theirs
  -- What the limit leaves beside others' share.
  local room = limit - theirs
  if room < 1 then
    if lapse > at then at = lapse end
  elseif count >= room then
    -- Every entry is at or before base, so the room-th newest is inside the window.
    local e = redis.call('ZREVRANGE', log, room - 1, room - 1, 'WITHSCORES')
    local t = tonumber(e[2]) + span
    if t > at then at = t end
  end
end

local tok_usage = {}
if n_tok > 0 then
  local total_in, total_out = totals(amt)
  local function amount(dim, x, y)
    if dim == 0 then return x + y elseif dim == 1 then return x else return y end
  end
  -- The entries of a window, read only if its budget is close to its limit, and only as far back
  -- as that window reaches (a minute's budget beside a day's reads a minute of entries); a longer
  -- window read later reads again, as far back as it reaches.
  local n, loaded, starts, ins, outs = nil, 0, {}, {}, {}
  local function load(span)
    if n ~= nil and span <= loaded then return end
    loaded = span
    starts, ins, outs = {}, {}, {}
    local rows = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(base - span), '+inf', 'WITHSCORES')
    n = #rows / 2
    local ids = {}
    for e = 1, n do
      ids[e] = rows[2 * e - 1]
      starts[e] = tonumber(rows[2 * e])
    end
    for c = 1, n, 1000 do
      local values = redis.call('HMGET', amt, unpack(ids, c, math.min(c + 999, n)))
      for v = 1, #values do ins[c + v - 1], outs[c + v - 1] = parse_amount(values[v]) end
    end
  end
  for k = 1, n_tok do
    local dim, limit, span = tok[k][1], tok[k][2], tok[k][3]
    local need = amount(dim, input, output)
    local total = amount(dim, total_in, total_out)
    local theirs, lapse = share_of(tok[k][4])
    -- Every window holds a part of the log, so the log's total bounds its use.
    tok_usage[k] = total + theirs
    if need > 0 and total + theirs + need > limit then
      if need > limit then return reply(${ADMIT_STATUS.tooLarge}, now) end
      -- Beside others' share it never fits: not before the share lapses.
      if theirs + need > limit and lapse > at then at = lapse end
      load(span)
      local from = base - span
      local first = n + 1
      local sum = 0
      for e = 1, n do
        if starts[e] > from then
          if first > n then first = e end
          sum = sum + amount(dim, ins[e], outs[e])
        end
      end
      tok_usage[k] = sum + theirs
      if theirs + need <= limit and sum + theirs + need > limit then
        local excess = sum + theirs + need - limit
        local freed = 0
        local t = nil
        for e = first, n do
          freed = freed + amount(dim, ins[e], outs[e])
          if freed >= excess then
            t = starts[e] + span
            break
          end
        end
        -- Sums of fractional amounts can fall a hair short of the excess: then all must leave.
        if t == nil then t = starts[n] + span end
        if t > at then at = t end
      end
    end
  end
end

local function usage_now()
  local u = {}
  for r = 1, n_req do u[r] = usage[r] end
  for k = 1, n_tok do u[n_req + k] = fmt(tok_usage[k]) end
  return u
end

-- No slot is booked while every concurrency slot is taken; nor is Redis asked again before the
-- windows would admit anyway.
local retry = concurrency_full()
if retry then
  if at > retry then retry = at end
  return reply(${ADMIT_STATUS.wait}, retry, usage_now())
end
if at > now and not may_book then return reply(${ADMIT_STATUS.wait}, at, usage_now()) end

redis.call('ZADD', log, fmt(at), id)
if input + output > 0 then
  redis.call('HSET', amt, id, input_text .. ',' .. output_text)
  shift_totals(amt, input, output)
end
-- at is now the newest start, so this keeps every entry until it has left every window.
expire_ms(log, at - now + max_span + slack)
expire_ms(amt, at - now + max_span + slack)
for r = 1, n_req do usage[r] = usage[r] + 1 end
for k = 1, n_tok do
  local dim = tok[k][1]
  local need = input + output
  if dim == 1 then need = input elseif dim == 2 then need = output end
  usage[n_req + k] = fmt(tok_usage[k] + need)
end

if at > now then
  if limited and lease_on_booking then take_lease(at) end
  return reply(${ADMIT_STATUS.booked}, at, usage)
end
if limited then take_lease(now) end
return reply(${ADMIT_STATUS.admitted}, now, usage)
`,
);
