/*
 * Two parts of the admit script (lua/admit.ts), kept here for its length: they run in its scope
 * and use its locals (`log`, `now`, `keep`, `newest`, `usage`, ...).
 */

/**
 * Entries that have left the log are dropped in batches once it is long: with at least
 * BATCH_FROM entries, `prune` is when the BATCH-th oldest leaves, so up to BATCH - 1 entries that
 * left stay counted in the log's count and totals until then (the use the admit reply reports for
 * the longest exact window is at most that many requests and their tokens high, under 3% of the
 * log). No decision rests on those totals alone: near a limit, the request windows find the
 * room-th newest start and the token budgets walk their window's entries, both exact. A shorter
 * log drops each entry as it leaves. The dropping costs about four commands; once per batch, not
 * once per call, at a steady rate.
 */
export const BATCH_FROM = 256;
export const BATCH = 8;

/** Lua: the rank (as text) of the entry whose leaving makes the next `prune`, for a log of `n` entries. */
export function pruneRank(n: string): string {
  return `(${n} >= ${BATCH_FROM} and '${BATCH - 1}' or '0')`;
}

/**
 * Drops the entries that have left the log's span (a start at t counts until t + span,
 * exclusive), so the totals are the longest exact window's use, but for a batch still to drop (see
 * BATCH above). `prune` is when the batch has left: nothing is read before then. The entries that
 * left are read by their ids only (a start read back is a float the server formats and Lua
 * parses, dear), then the one start that sets the next `prune`.
 */
export const PRUNE_LOG = `
local prune_at = s_num('prune')
if uses_log and prune_at ~= nil and prune_at <= now then
  local horizon_text = txt(now - keep)
  local gone = redis.call('ZRANGE', log, '-inf', horizon_text, 'BYSCORE')
  if #gone > 0 then
    local gone_in, gone_out, gone_sp = 0, 0, 0
    s_load(gone)
    for _, x in ipairs(gone) do
      local a, b, c = parse_amount(s_get(x))
      gone_in, gone_out, gone_sp = gone_in + a, gone_out + b, gone_sp + c
      if a + b + c > 0 then s_set(x, false) end
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', horizon_text)
    shift_totals(-gone_in, -gone_out, -gone_sp)
    shift_count(-#gone)
  end
  local rank = ${pruneRank("(s_num('n') or 0)")}
  local next_out = redis.call('ZRANGE', log, rank, rank, 'WITHSCORES')
  if next_out[2] ~= nil then s_set('prune', tonumber(next_out[2]) + keep) else settle_totals(log) end
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
