/*
 * Two parts of the admit script (lua/admit.ts), kept here for its length: they run in its scope
 * and use its locals (`log`, `now`, `keep`, `newest`, `usage`, ...).
 */

/**
 * Drops the entries that have left the log's span (a start at t counts until t + span,
 * exclusive) as they leave, so the totals are the longest exact window's use. `prune` is when
 * the oldest leaves: nothing is read before then. The oldest few are read with their starts, so the
 * call that drops them also learns when the next one leaves.
 */
export const PRUNE_LOG = `
local prune_at = s_num('prune')
if uses_log and prune_at ~= nil and prune_at <= now then
  local horizon = now - keep
  local gone, gone_in, gone_out, gone_sp = {}, 0, 0, 0
  local next_at = nil
  repeat
    local rows = redis.call('ZRANGE', log, #gone, #gone + 15, 'WITHSCORES')
    local more = #rows == 32
    for e = 1, #rows, 2 do
      local t = tonumber(rows[e + 1])
      if t > horizon then
        next_at = t
        more = false
        break
      end
      gone[#gone + 1] = rows[e]
    end
  until not more
  if #gone > 0 then
    s_load(gone)
    for _, x in ipairs(gone) do
      local a, b, c = parse_amount(s_get(x))
      gone_in, gone_out, gone_sp = gone_in + a, gone_out + b, gone_sp + c
      if a + b + c > 0 then s_set(x, false) end
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', txt(horizon))
    shift_totals(-gone_in, -gone_out, -gone_sp)
    shift_count(-#gone)
  end
  if next_at ~= nil then s_set('prune', next_at + keep) else settle_totals(log) end
end
`;

/**
 * Keeps the keys alive (the newest entry and the pause outlive them by the longest window: set a
 * while ahead, not on every call; a log that does not exist yet gets its expiry when it is
 * created), writes the state once, and builds the reply.
 */
export const EXPIRE_AND_REPLY = `
local x = s_num('x')
local need_x = math.max(newest, paused, now) + max_span + slack
local extend = nil
if x == nil or need_x > x then
  extend = need_x + math.min(math.max(max_span / 4, 1000000), 60000000)
  if uses_log and not added and redis.call('EXISTS', log) == 0 then s_set('x', false) else s_set('x', extend) end
end
s_flush()
if extend ~= nil then
  expire_ms(S_key, extend - now)
  if uses_log then expire_ms(log, extend - now) end
end
if lease_until ~= nil then
  local last = redis.call('ZRANGE', conc, -1, -1, 'WITHSCORES')
  expire_ms(conc, tonumber(last[2]) - now + slack)
end

local n_used = 0
if usage ~= nil then n_used = n_req + n_tok end
return admit_reply(now, paused, in_use, peers, s_get('born'), usage, n_req, n_used, answers)
`;
