import { pruneRank } from './admit-parts.js';
import { ADMIT_STATUS } from './admit-status.js';

/*
 * The admit script's fast path (lua/admit.ts runs it first): the common case in few steps, before
 * the general path's functions exist. It runs in the script's scope, after `A` (ARGV), `t0` (TIME)
 * and `v` (the state's HMGET of STATE_FIELDS) and the formats, and before anything is written.
 */

/** The state fields every admit call reads first, in one HMGET, in this order. */
export const STATE_FIELDS = ['clock', 'born', 'pause', 'in', 'out', 'sp', 'n', 'newest', 'prune', 'ox', 'x'];

/**
 * The reply both paths build: { now, pausedUntil, leasesInUse, peers, generation, n, usage (n
 * values: request counts, then token sums, integers when whole, else text), then (status, at) per
 * request looked at }.
 */
export const ADMIT_REPLY = `
local function admit_reply(now, paused, in_use, peers, born, usage, n_req, n_used, answers)
  local out = { now, paused, in_use, peers, born, n_used }
  for k = 1, n_used do
    local w = usage[k]
    if k <= n_req or (w % 1 == 0 and w < 1e15) then out[6 + k] = w else out[6 + k] = fmt(w) end
  end
  for a = 1, #answers do out[6 + n_used + a] = answers[a] end
  return out
end
`;

/**
 * One new request (not a resend, not a replacement), no bucketed window, no concurrency limit, no
 * peer count due, no pause or others' share in force, no booking ahead, at most 32 entries for the
 * log to drop and some left after them, the keys' expiry set far enough, and room for it now in
 * every window: it is admitted at once, with the writes and the answer the general path would
 * make. Any other case, and a resend (its `ZADD NX` adds nothing), goes on to the general path with
 * nothing written.
 */
export const FAST_ADMIT = `
do
  local fast = A[10] == '0' and A[5] == '-1' and A[6] == ''
  local n_req, n_tok, tok_at, ask = 0, 0, 0, 0
  if fast then
    n_req = A[11] + 0
    tok_at = 13 + 3 * n_req
    n_tok = A[tok_at - 1] + 0
    ask = tok_at + 4 * n_tok + 1
    local flags = A[ask + 4] + 0
    fast = A[ask - 1] == '1' and n_req + n_tok > 0 and flags % 16 >= 8 and flags % 8 < 4
  end
  local now, now_text, clock_is_ahead = t0[1] * 1000000 + t0[2], nil, false
  local paused, newest = 0, 0
  if fast then
    if v[1] and v[1] + 0 > now then
      now, clock_is_ahead = v[1] + 0, true
      now_text = txt(now)
    else
      -- TIME's seconds and microseconds side by side, without formatting a number.
      now_text = t0[1] .. string.sub('00000' .. t0[2], -6)
    end
    if v[3] then paused = v[3] + 0 end
    if v[8] then newest = v[8] + 0 end
    fast = v[2] and v[11] and v[11] + 0 >= now + A[9] + A[4] and v[9]
      and paused <= now and not (v[10] and v[10] + 0 > now) and newest <= now
  end
  local n, t_in, t_out, t_sp = 0, 0, 0, 0
  if fast then
    if v[7] then n = v[7] + 0 end
    if v[4] then t_in = v[4] + 0 end
    if v[5] then t_out = v[5] + 0 end
    if v[6] then t_sp = v[6] + 0 end
  end
  -- Entries that have left the log's span, once \`prune\` is due (a batch of them in a long log, see
  -- BATCH in lua/admit-parts.ts): up to 32 are dropped with the admission; more, or all the log
  -- holds, go to the general path. Their ids only (a start read back is a float the server formats
  -- and Lua parses, dear); the one start that sets the next \`prune\` is read after they go.
  local gone, amounts = nil, nil
  -- Which of the log's totals the drop changed (each is then written, as the general path does).
  local less_in, less_out, less_sp = false, false, false
  if fast and v[9] + 0 <= now then
    gone = redis.call('ZRANGE', KEYS[1], '-inf', txt(now - A[8]), 'BYSCORE', 'LIMIT', '0', '33')
    if #gone > 32 or #gone >= n then
      fast = false
    elseif #gone > 0 then
      amounts = redis.call('HMGET', KEYS[3], unpack(gone))
      local gone_in, gone_out, gone_sp = 0, 0, 0
      for e = 1, #gone do
        if amounts[e] then
          -- "input,output[,spend]", as amount_text writes it.
          local a, b, c = string.match(amounts[e], '^([^,]*),([^,]*),?(.*)$')
          gone_in = gone_in + a
          if b ~= '0' then gone_out = gone_out + b end
          if c ~= '' and c ~= '0' then gone_sp = gone_sp + c end
        end
      end
      -- As the general path takes them: the log's totals less what left, never below 0.
      n = math.max(0, n - #gone)
      if gone_in ~= 0 then t_in = math.max(0, t_in - gone_in) end
      if gone_out ~= 0 then t_out = math.max(0, t_out - gone_out) end
      if gone_sp ~= 0 then t_sp = math.max(0, t_sp - gone_sp) end
      less_in, less_out, less_sp = gone_in ~= 0, gone_out ~= 0, gone_sp ~= 0
    end
  end
  -- Sized once for the usual few windows.
  local u = { 0, 0, 0, 0 }
  for r = 1, fast and n_req or 0 do
    local j = 9 + 3 * r
    -- The log holds just the longest exact window's entries (its span is the log's, A[8]): its
    -- count is theirs.
    local count = n
    if A[j + 1] ~= A[8] then count = redis.call('ZCOUNT', KEYS[1], '(' .. txt(now - A[j + 1]), '+inf') end
    if count >= A[j] + 0 then
      fast = false
      break
    end
    u[r] = count + 1
  end
  local input, output, spend = 0, 0, 0
  if fast then
    if A[ask + 1] ~= '0' then input = A[ask + 1] + 0 end
    if A[ask + 2] ~= '0' then output = A[ask + 2] + 0 end
    if A[ask + 3] ~= '0' then spend = A[ask + 3] + 0 end
  end
  for k = 1, fast and n_tok or 0 do
    local j = tok_at + 4 * (k - 1)
    local dim, need, total = A[j], input + output, t_in + t_out
    if dim == '1' then
      need, total = input, t_in
    elseif dim == '2' then
      need, total = output, t_out
    elseif dim == '3' then
      need, total = spend, t_sp
    end
    if need > 0 and total + need > A[j + 1] + 0 then
      fast = false
      break
    end
    u[n_req + k] = total + need
  end
  if fast and redis.call('ZADD', KEYS[1], 'NX', now_text, A[ask]) == 1 then
    -- Sized once for the most fields a call writes; the first c are sent.
    local sets = {
      'n', txt(n + 1), 'clock', now_text, false, false, false, false, false, false, false, false, false, false, false,
      false,
    }
    local c = 4
    if clock_is_ahead then c = 2 end
    local function put(field, value)
      sets[c + 1], sets[c + 2] = field, value
      c = c + 2
    end
    if input + output + spend > 0 then put(A[ask], amount_text(A[ask + 1], A[ask + 2], A[ask + 3])) end
    if input ~= 0 or less_in then put('in', txt(t_in + input)) end
    if output ~= 0 or less_out then put('out', txt(t_out + output)) end
    if spend ~= 0 or less_sp then put('sp', txt(t_sp + spend)) end
    if newest < now then put('newest', now_text) end
    if gone ~= nil then
      if #gone > 0 then
        redis.call('ZREM', KEYS[1], unpack(gone))
        local charged = {}
        for e = 1, #gone do if amounts[e] then charged[#charged + 1] = gone[e] end end
        if #charged > 0 then redis.call('HDEL', KEYS[3], unpack(charged)) end
      end
      -- The log holds n entries before this one: the rank is found among them.
      local rank = ${pruneRank('n')}
      local next_out = redis.call('ZRANGE', KEYS[1], rank, rank, 'WITHSCORES')
      if next_out[2] then put('prune', txt(next_out[2] + A[8])) end
    end
    redis.call('HSET', KEYS[3], unpack(sets, 1, c))
    return admit_reply(now, paused, 0, -1, v[2], u, n_req, n_req + n_tok, { ${ADMIT_STATUS.admitted}, now })
  end
end
`;
