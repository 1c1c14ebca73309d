import { ADMIT_REPLY, FAST_ADMIT, STATE_FIELDS } from './admit-fast.js';
import { EXPIRE_AND_REPLY, PRUNE_LOG } from './admit-parts.js';
import { ADMIT_STATUS } from './admit-status.js';
import { AMOUNTS, BUCKETS, FORMAT, OTHERS, STATE, script } from './prelude.js';

export { ADMIT_STATUS } from './admit-status.js';

/**
 * Admission of one or several requests, in order: every request window, token budget, the
 * concurrency leases and the pause, in one step. The first request that is not admitted ends the
 * batch (it is booked a slot, or told when to ask again); those after it are not looked at, so none
 * overtakes it.
 *
 * KEYS: log, conc, state (see prelude.ts), peers (zset store id -> last seen), others (hash window
 * -> others' share, see OTHERS in prelude.ts): each window admits only what its limit leaves beside
 * the share in force, and its usage counts the share.
 *
 * ARGV: lease ttl, poll, late, slack (microseconds added to every key expiry), concurrency (-1 =
 * unlimited), peer id ('' = not this time), peer horizon, keep (the log's span), the longest window
 * (all microseconds); then the bucket groups as a count followed by (width, span) pairs; the
 * request windows as a count followed by (limit, span, group) triples; the token windows as a count
 * followed by (dimension 0 = input + output, 1 = input, 2 = output, 3 = spend; limit; span; group)
 * quadruples (group 0 = exact, else the group's number); then the requests as a count followed by
 * (id, input, output, spend, flags) quintuples, flags: 1 = may book a future slot, 2 = a booking
 * also takes its concurrency lease, 4 = replace (drop this id's old entry and admit afresh), 8 = a
 * new id (not looked up: a resend is told by its entry being there already), 16 = book no slot on
 * an entry admitted less than half its window ago (leases counted from arrival: it may still move
 * later; the caller asks again at that time instead). Spans include the margin.
 *
 * Reply: { now, pausedUntil, leasesInUse, peers (-1: not counted this time), the state's generation
 * (its \`born\`, for RESTORE), n, usage (n values), then (status, at) per request looked at }. The
 * usage, after the last request looked at, is one count per request window then one sum (an
 * integer, or a string when not whole) per token window, others' shares included; empty when the
 * windows were not evaluated. An exact budget far from its limit reports the log's total (the
 * longest exact window's use) and a bucketed window its buckets' total, which bound it.
 *
 * The common case takes a fast path first (FAST_ADMIT in lua/admit-fast.ts) with the same writes
 * and answer; the general path reuses its TIME and state read.
 *
 * A booked slot is an ordinary entry whose start lies in the future, so every process counts it at
 * once. New entries never start before the newest one (bookings are first come, first served),
 * which keeps "the limit-th newest start plus the window" the right answer for requests and a walk
 * from the oldest entry (or bucket) the right one for tokens.
 */
export const ADMIT = script(
  'admit',
  `${FORMAT}${ADMIT_REPLY}
local A = ARGV
local t0 = redis.call('TIME')
local v = redis.call('HMGET', KEYS[3], ${STATE_FIELDS.map((f) => `'${f}'`).join(', ')})
${FAST_ADMIT}${STATE}${AMOUNTS}${BUCKETS}${OTHERS}
local log, conc, peers_key, others_key = KEYS[1], KEYS[2], KEYS[4], KEYS[5]
S_key = KEYS[3]
-- Numbers are read from ARGV where a path needs them (poll A[2], late A[3], peer horizon A[7]).
local slack = A[4] + 0
local limited = A[5] ~= '-1'
local concurrency, lease_ttl = -1, 0
if limited then concurrency, lease_ttl = A[5] + 0, A[1] + 0 end
local peer = A[6]
local keep, max_span = A[8] + 0, A[9] + 0
local groups, i = groups_parse(10)
local n_req = A[i] + 0
local req_at = i + 1
i = req_at + 3 * n_req
local n_tok = A[i] + 0
local tok_at = i + 1
i = tok_at + 4 * n_tok
local n_asks = A[i] + 0
local first_ask = i + 1
-- A window's group: nil for an exact window ('0').
local function group_at(j)
  if A[j] == '0' then return nil end
  return groups[A[j] + 0]
end
local req_limit, req_span, req_group = {}, {}, {}
for r = 1, n_req do
  local j = req_at + 3 * (r - 1)
  req_limit[r], req_span[r], req_group[r] = A[j] + 0, A[j + 1] + 0, group_at(j + 2)
end
local tok_dim, tok_limit, tok_span, tok_group = {}, {}, {}, {}
for k = 1, n_tok do
  local j = tok_at + 4 * (k - 1)
  tok_dim[k], tok_limit[k], tok_span[k], tok_group[k] = A[j] + 0, A[j + 1] + 0, A[j + 2] + 0, group_at(j + 3)
end
local uses_log = n_req + n_tok > 0

local now = t0[1] * 1000000 + t0[2]
-- Built whole, sized once for the fields most calls touch (a field to write marked false: only for that).
S = { ${STATE_FIELDS.map((f, k) => `['${f}'] = v[${k + 1}] or false`).join(', ')} }
S_dirty = { clock = false, ['in'] = false, out = false, n = false, newest = false, prune = false, x = false }
if #groups > 0 then
  local wanted = {}
  for _, g in ipairs(groups) do
    wanted[#wanted + 1] = g.k .. ':t'
    wanted[#wanted + 1] = g.k .. ':c'
    wanted[#wanted + 1] = b_field(g, b_index(g, now))
  end
  s_load(wanted)
end
local last_seen = s_num('clock')
local now_text
if last_seen ~= nil and last_seen > now then
  now, now_text = last_seen, txt(last_seen)
else
  -- TIME's seconds and microseconds side by side, without formatting a number.
  now_text = t0[1] .. string.sub('00000' .. t0[2], -6)
  s_set('clock', now_text)
end
if not s_get('born') then s_create(now_text) end

local peers = -1
if peer ~= '' then
  local peer_horizon = A[7] + 0
  redis.call('ZADD', peers_key, now_text, peer)
  redis.call('ZREMRANGEBYSCORE', peers_key, '-inf', int(now - peer_horizon))
  expire_ms(peers_key, peer_horizon + slack)
  peers = redis.call('ZCARD', peers_key)
end

local newest = s_num('newest') or 0
${PRUNE_LOG}for _, g in ipairs(groups) do b_retire(g, now, newest) end

local in_use = 0
if limited then
  -- Leases nobody renewed: their holder crashed or lost Redis for longer than the ttl.
  redis.call('ZREMRANGEBYSCORE', conc, '-inf', now_text)
  in_use = redis.call('ZCARD', conc)
end
local lease_until = nil
local paused = s_num('pause') or 0

-- Others' shares in force, by window (read only while one is).
local shares = nil
if (s_num('ox') or 0) > now then
  load_others()
  shares = {}
  local rows = redis.call('HGETALL', others_key)
  for s = 1, #rows, 2 do shares[rows[s]] = rows[s + 1] end
end
-- The others' share of a window in force, and when it lapses (a function only while one is).
local share_of = nil
if shares ~= nil then
  share_of = function(field)
    local value = shares[field]
    if value == nil then return 0, now end
    local list, headroom = others_parse(value)
    return others_level(list, headroom, now)
  end
end
-- The functions of the paths that wait, defined when one is taken (\`load_waits()\` first).
local young, retry_at, entries_from
local function load_waits()
  if young then return end
  -- An entry admitted (not booked) less than half its window ago: its request may not have arrived.
  function young(start, span) return start <= now and start > now - span / 2 end
  -- Every concurrency slot is taken by others who will not say when one frees: look again soon,
  -- or when the first lease expires if that is sooner.
  function retry_at()
    local first = redis.call('ZRANGE', conc, 0, 0, 'WITHSCORES')
    local retry = now + A[2]
    if first[2] ~= nil and first[2] + 0 < retry then retry = first[2] + 0 end
    if paused > retry then retry = paused end
    return retry
  end
  -- The entries of an exact window from \`from\` on, with their charges (through the state's cache:
  -- charges this call wrote are not in the hash yet).
  function entries_from(from)
    local rows = redis.call('ZRANGEBYSCORE', log, '(' .. txt(from), '+inf', 'WITHSCORES')
    local n = #rows / 2
    local ids, starts, ins, outs, sps = {}, {}, {}, {}, {}
    for e = 1, n do
      ids[e] = rows[2 * e - 1]
      starts[e] = tonumber(rows[2 * e])
    end
    s_load(ids)
    for e = 1, n do ins[e], outs[e], sps[e] = parse_amount(s_get(ids[e])) end
    return n, starts, ins, outs, sps
  end
end

local usage = nil
local added = false
local answers = {}
for a = 0, n_asks - 1 do
  local j = first_ask + 5 * a
  local id, input_text, output_text, spend_text, flags = A[j], A[j + 1], A[j + 2], A[j + 3], A[j + 4] + 0
  local input, output, spend = input_text + 0, 0, 0
  if output_text ~= '0' then output = output_text + 0 end
  if spend_text ~= '0' then spend = spend_text + 0 end
  local status, at = nil, now
  repeat
    local may_book = flags % 2 == 1
    local lease_on_booking = flags % 4 >= 2
    local replace = flags % 8 >= 4
    local fresh = flags % 16 >= 8
    -- Leases counted from arrival: no slot is booked on an entry that may still be restamped later.
    local settled_only = flags % 32 >= 16
    local no_booking = false
    -- The same id again: a booking coming due, a resend after a reconnect, or a stale booking. A
    -- new id is not looked up: adding it tells whether it was there (a resend), below.
    local existing = nil
    if uses_log and not fresh then existing = tonumber(redis.call('ZSCORE', log, id)) end
    if existing == nil and limited and not uses_log and redis.call('ZSCORE', conc, id) then
      status = ${ADMIT_STATUS.admitted}
      break
    end
    if existing ~= nil then
      local drop = false
      if replace then
        drop = true
      elseif existing > now then
        status, at = ${ADMIT_STATUS.booked}, existing
      elseif redis.call('ZSCORE', conc, id) then
        status, at = ${ADMIT_STATUS.admitted}, existing
      elseif paused > now or now - existing > A[3] + 0 then
        -- A pause came after the booking, or the booking is too old to be the request's start.
        drop = true
      elseif limited and in_use >= concurrency then
        drop = true
        load_waits()
        status, at = ${ADMIT_STATUS.wait}, retry_at()
      else
        if limited then
          in_use = in_use + redis.call('ZADD', conc, int(now + lease_ttl), id)
          lease_until = now + lease_ttl
        end
        status, at = ${ADMIT_STATUS.admitted}, existing
      end
      if drop then
        redis.call('ZREM', log, id)
        local x, y, z = parse_amount(s_get(id))
        if x + y + z > 0 then s_set(id, false) end
        shift_totals(-x, -y, -z)
        shift_count(-1)
        for _, g in ipairs(groups) do b_add(g, existing, -1, -x, -y, -z) end
        settle_totals(log)
        if existing >= newest then
          -- Never below now: the buckets' walks reach as far as the newest start.
          local top = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')
          newest = math.max(tonumber(top[2]) or 0, now)
          s_set('newest', newest)
        end
        in_use = in_use - redis.call('ZREM', conc, id)
      end
      if status ~= nil then break end
    end

    if paused > at then at = paused end
    if not uses_log then
      if limited and in_use >= concurrency then
        load_waits()
        status, at = ${ADMIT_STATUS.wait}, retry_at()
      elseif at > now then
        status = ${ADMIT_STATUS.wait}
      else
        if limited then
          in_use = in_use + redis.call('ZADD', conc, txt(now + lease_ttl), id)
          lease_until = now + lease_ttl
        end
        status = ${ADMIT_STATUS.admitted}
      end
      break
    end

    if newest > at then at = newest end
    local base = at
    local u = {}
    local count_all = s_num('n') or 0
    for r = 1, n_req do
      local limit, span, g = req_limit[r], req_span[r], req_group[r]
      local theirs, lapse = 0, now
      if shares ~= nil then
        local j = req_at + 3 * (r - 1)
        -- Named from the arguments' own text, as the share was learned under.
        theirs, lapse = share_of('r:' .. A[j] .. ':' .. A[j + 1])
      end
      -- What the limit leaves beside others' share.
      local room = limit - theirs
      local count
      if g ~= nil then
        count = b_total(g)
      elseif span == keep and base == now then
        -- The log holds just this window's entries (the longest exact one): no need to count them.
        count = count_all
      else
        count = redis.call('ZCOUNT', log, '(' .. txt(base - span), '+inf')
      end
      u[r] = count + theirs
      if room < 1 then
        if lapse > at then at = lapse end
      elseif count >= room then
        load_waits()
        local t
        if g == nil then
          -- Every entry is at or before base, so the room-th newest is inside the window.
          local e = redis.call('ZREVRANGE', log, room - 1, room - 1, 'WITHSCORES')
          t = tonumber(e[2]) + span
          if settled_only and t > now and young(t - span, span) then no_booking = true end
        else
          t = b_frees(g, 4, count - room + 1, newest)
        end
        if t > at then at = t end
      end
    end

    local total_in, total_out, total_sp = totals()
    for k = 1, n_tok do
      local dim, limit, span, g = tok_dim[k], tok_limit[k], tok_span[k], tok_group[k]
      local need = b_part(dim, 0, input, output, spend)
      local total
      if g == nil then total = b_part(dim, 0, total_in, total_out, total_sp) else total = b_part(dim, b_total(g)) end
      local theirs, lapse = 0, now
      if shares ~= nil then
        local j = tok_at + 4 * (k - 1)
        theirs, lapse = share_of('t:' .. A[j] .. ':' .. A[j + 1] .. ':' .. A[j + 2])
      end
      -- Every exact window holds a part of the log, so the log's total bounds its use.
      u[n_req + k] = total + theirs
      if need > 0 and total + theirs + need > limit then
        if need > limit then
          status, at = ${ADMIT_STATUS.tooLarge}, now
          break
        end
        -- Beside others' share it never fits: not before the share lapses.
        if theirs + need > limit and lapse > at then at = lapse end
        if g ~= nil then
          if theirs + need <= limit then
            local t = b_frees(g, dim, total + theirs + need - limit, newest)
            if t > at then at = t end
          end
        else
          load_waits()
          local n, starts, ins, outs, sps = entries_from(base - span)
          local sum = 0
          for e = 1, n do sum = sum + b_part(dim, 0, ins[e], outs[e], sps[e]) end
          u[n_req + k] = sum + theirs
          if theirs + need <= limit and sum + theirs + need > limit then
            local excess = sum + theirs + need - limit
            local freed = 0
            -- Sums of fractional amounts can fall a hair short of the excess: then all must leave.
            local t = starts[n] + span
            for e = 1, n do
              freed = freed + b_part(dim, 0, ins[e], outs[e], sps[e])
              if freed >= excess then
                t = starts[e] + span
                break
              end
            end
            if settled_only and t > now and young(t - span, span) then no_booking = true end
            if t > at then at = t end
          end
        end
      end
    end
    if status ~= nil then break end
    usage = u

    -- No slot is booked while every concurrency slot is taken; nor is Redis asked again before the
    -- windows would admit anyway.
    if limited and in_use >= concurrency then
      load_waits()
      local retry = retry_at()
      if at > retry then retry = at end
      status, at = ${ADMIT_STATUS.wait}, retry
      break
    end
    if at > now and (no_booking or not may_book) then
      status = ${ADMIT_STATUS.wait}
      break
    end

    local at_text = now_text
    if at ~= now then at_text = txt(at) end
    if fresh and redis.call('ZADD', log, 'NX', at_text, id) == 0 then
      -- A resend of a call Redis ran: answer as it did, from the entry it made.
      at = tonumber(redis.call('ZSCORE', log, id))
      if at > now then status = ${ADMIT_STATUS.booked} else status = ${ADMIT_STATUS.admitted} end
      if limited and not redis.call('ZSCORE', conc, id) and (at <= now or lease_on_booking) then
        in_use = in_use + redis.call('ZADD', conc, txt(math.max(at, now) + lease_ttl), id)
        lease_until = math.max(lease_until or 0, math.max(at, now) + lease_ttl)
      end
      break
    end
    if not fresh then redis.call('ZADD', log, at_text, id) end
    added = true
    shift_count(1)
    if input + output + spend > 0 then
      s_set(id, amount_text(input_text, output_text, spend_text))
      shift_totals(input, output, spend)
    end
    for _, g in ipairs(groups) do b_add(g, at, 1, input, output, spend) end
    if at > newest then
      newest = at
      s_set('newest', at_text)
    end
    if not s_get('prune') then s_set('prune', at + keep) end
    for r = 1, n_req do u[r] = u[r] + 1 end
    for k = 1, n_tok do u[n_req + k] = u[n_req + k] + b_part(tok_dim[k], 0, input, output, spend) end
    if at > now then
      status = ${ADMIT_STATUS.booked}
      if limited and lease_on_booking then
        in_use = in_use + redis.call('ZADD', conc, txt(at + lease_ttl), id)
        if lease_until == nil or at + lease_ttl > lease_until then lease_until = at + lease_ttl end
      end
    else
      status = ${ADMIT_STATUS.admitted}
      if limited then
        in_use = in_use + redis.call('ZADD', conc, txt(now + lease_ttl), id)
        if lease_until == nil or now + lease_ttl > lease_until then lease_until = now + lease_ttl end
      end
    end
  until true
  answers[#answers + 1] = status
  answers[#answers + 1] = at
  if status ~= ${ADMIT_STATUS.admitted} then break end
end

${EXPIRE_AND_REPLY}`,
);
