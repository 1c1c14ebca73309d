import { AMOUNTS, BUCKETS, PRELUDE, script } from './prelude.js';

/*
 * Scripts that change what an admission left behind: its token charge, its start, or its entry
 * and lease. Each takes the bucket groups (a count, then (width, span) pairs) first, and for each
 * entry what this process believes of it: its start (server microseconds, -1 when unknown) and
 * its charge. The log is believed first; the belief only serves an entry older than the log's
 * span (`keep`), which the buckets alone still count: one missing from the log though younger
 * than that has gone already, and is left alone.
 */

/** What the scripts below share: which record of an entry to believe. */
const ENTRY = `
-- The entry's start and charge, and whether the log holds it; nil when neither log nor belief may be used.
local function entry_of(log, id, start, a, b, c, now, keep)
  local score = tonumber(redis.call('ZSCORE', log, id))
  if score ~= nil then
    local x, y, z = parse_amount(s_get(id))
    return score, x, y, z, true
  end
  if start == nil or start < 0 or start + keep > now then return nil end
  return start, a, b, c, false
end
`;

/**
 * Replaces an entry's token charge; the entry keeps its start. A no-op for an entry that has left
 * every window (or was cancelled). `sure` 0: the charge believed may be out of date (a reconcile
 * whose answer was lost), so a bucket is only ever charged more, never refunded, on that belief.
 *
 * KEYS: log, state. ARGV: groups, keep, id, input, output, spend, start, believed input, output
 * and spend, sure. Reply: 1 if charged, 0 if the entry is gone.
 */
export const RECONCILE = script(
  'reconcile',
  `${PRELUDE}${AMOUNTS}${BUCKETS}${ENTRY}
local log = KEYS[1]
S_key = KEYS[2]
local groups, i = groups_parse(1)
if not s_get('clock') then return 0 end
local keep, id = tonumber(ARGV[i]), ARGV[i + 1]
local new_in, new_out, new_sp = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
local sure = ARGV[i + 9] == '1'
local start, old_in, old_out, old_sp, logged = entry_of(
  log, id, tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]), now_us(), keep
)
if start == nil then return 0 end
if logged then
  if new_in + new_out + new_sp > 0 then
    s_set(id, amount_text(ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]))
  elseif s_get(id) then
    s_set(id, false)
  end
  shift_totals(new_in - old_in, new_out - old_out, new_sp - old_sp)
end
local d_in, d_out, d_sp = new_in - old_in, new_out - old_out, new_sp - old_sp
if not logged and not sure then
  d_in, d_out, d_sp = math.max(0, d_in), math.max(0, d_out), math.max(0, d_sp)
end
for _, g in ipairs(groups) do b_add(g, start, 0, d_in, d_out, d_sp) end
s_flush()
return 1
`,
);

/**
 * Moves an entry's start later: it counts from when the request reached the provider, not from
 * its admission (`lease.restamp`). `ago` says how long before now (the server's clock, read here)
 * the new start was, so every process counts it alike. Never earlier than its admission, never
 * later than now; its keys live on for as long as it moved.
 *
 * KEYS: log, state. ARGV: groups, keep, longest window, slack, id, ago, start, input, output,
 * spend (microseconds; the last four as believed). Reply: 1 if moved, 0 if not (gone, no later, or
 * out of every window even from its new start).
 */
export const RESTAMP = script(
  'restamp',
  `${PRELUDE}${AMOUNTS}${BUCKETS}${ENTRY}
local log = KEYS[1]
S_key = KEYS[2]
local groups, i = groups_parse(1)
if not s_get('clock') then return 0 end
local keep, max_span, slack, id = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
local now = now_us()
local new = now - tonumber(ARGV[i + 4])
local old, a, b, c, logged = entry_of(
  log, id, tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]), now, keep
)
-- Even counted from its new start, it has left every window: nothing to move.
if old == nil or new <= old or new + max_span <= now then return 0 end
if logged then
  redis.call('ZADD', log, 'XX', fmt(new), id)
elseif new + keep > now then
  -- Back in the log's span: the log holds it again (its exact windows count it, and later
  -- changes of it are told from one that has gone).
  redis.call('ZADD', log, fmt(new), id)
  if a + b + c > 0 then
    s_set(id, amount_text(fmt(a), fmt(b), fmt(c)))
    shift_totals(a, b, c)
  end
  shift_count(1)
  if (s_num('prune') or math.huge) > new + keep then s_set('prune', fmt(new + keep)) end
end
for _, g in ipairs(groups) do
  if b_index(g, new) ~= b_index(g, old) then
    b_add(g, old, -1, -a, -b, -c)
    b_add(g, new, 1, a, b, c)
  end
end
if new > (s_num('newest') or 0) then s_set('newest', fmt(new)) end
local want = new + max_span + slack
if want > (s_num('x') or 0) then s_set('x', fmt(want)) else want = nil end
s_flush()
if want ~= nil then
  expire_ms(S_key, want - now)
  expire_ms(log, want - now)
end
return 1
`,
);

/**
 * Forgets entries and leases: the first `count` entries lose their log entry, token charge and
 * lease (a cancelled request, a withdrawn booking, an admission whose answer was lost: start -1),
 * the rest only their lease (a release).
 *
 * KEYS: log, conc, state. ARGV: groups, keep, count, then count (id, start, input, output, spend)
 * quintuples, then lease ids. Reply: how many log entries and leases were removed.
 */
export const FORGET = script(
  'forget',
  `${PRELUDE}${AMOUNTS}${BUCKETS}${ENTRY}
local log, conc = KEYS[1], KEYS[2]
S_key = KEYS[3]
local groups, i = groups_parse(1)
local keep, count = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
local first = i + 2
local removed = 0
local live = count > 0 and s_get('clock') ~= nil
local now = 0
if live then now = now_us() end
local newest = s_num('newest') or 0
local refresh = false
for k = 0, count - 1 do
  local j = first + 5 * k
  local id = ARGV[j]
  if live then
    local start, a, b, c, logged = entry_of(
      log, id, tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4]), now, keep
    )
    if start ~= nil then
      if logged then
        removed = removed + redis.call('ZREM', log, id)
        if s_get(id) then s_set(id, false) end
        shift_totals(-a, -b, -c)
        shift_count(-1)
        if start >= newest then refresh = true end
      end
      for _, g in ipairs(groups) do b_add(g, start, -1, -a, -b, -c) end
    end
  end
  removed = removed + redis.call('ZREM', conc, id)
end
for j = first + 5 * count, #ARGV do removed = removed + redis.call('ZREM', conc, ARGV[j]) end
if live then
  settle_totals(log)
  if refresh then
    local top = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')
    -- Never below now: the buckets' walks reach as far as the newest start.
    s_set('newest', fmt(math.max(tonumber(top[2]) or 0, now)))
  end
  s_flush()
end
return removed
`,
);

/**
 * Writes back, after an outage, this process's admissions still in their windows: those Redis had
 * made (lost if the server restarted) and those the local share made meanwhile, each under its id
 * with its start (`ago` before now, the server's clock) and its charge as it stands. The log gets
 * those of its span it lacks. The buckets get those they lack: an entry is in them when the state
 * that recorded it (its generation: the state's `born` when Redis admitted or restored it, 0 when
 * only the local books have it) is the state there is now. Then the concurrency leases this
 * process still holds.
 *
 * KEYS: log, conc, state. ARGV: groups, keep, longest window, lease ttl, slack (microseconds), n,
 * then n (id, ago, input, output, spend, generation) sextuples, then lease ids. Reply: { entries added,
 * the state's generation }.
 */
export const RESTORE = script(
  'restore',
  `${PRELUDE}${AMOUNTS}${BUCKETS}
local log, conc = KEYS[1], KEYS[2]
S_key = KEYS[3]
local groups, i = groups_parse(1)
local keep, max_span, ttl, slack = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
local n = tonumber(ARGV[i + 4])
local first = i + 5
local now = now_us()
if not s_get('clock') then s_set('clock', fmt(now)) end
if not s_get('born') then s_create(fmt(now)) end
local born = s_num('born')
local newest = s_num('newest') or 0
for _, g in ipairs(groups) do b_retire(g, now, newest) end
local added = 0
for k = 0, n - 1 do
  local j = first + 6 * k
  local id, start = ARGV[j], now - tonumber(ARGV[j + 1])
  local a, b, c = tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4])
  if start + max_span > now and not redis.call('ZSCORE', log, id) then
    local wrote = false
    if start + keep > now then
      redis.call('ZADD', log, fmt(start), id)
      shift_count(1)
      if a + b + c > 0 then
        s_set(id, amount_text(ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]))
        shift_totals(a, b, c)
      end
      if not s_get('prune') or s_num('prune') > start + keep then s_set('prune', fmt(start + keep)) end
      wrote = true
    end
    if #groups > 0 and tonumber(ARGV[j + 5]) ~= born then
      for _, g in ipairs(groups) do b_add(g, start, 1, a, b, c) end
      wrote = true
    end
    if wrote then added = added + 1 end
    if start > newest then
      newest = start
      s_set('newest', fmt(start))
    end
  end
end
local want = newest + max_span + slack
if want > (s_num('x') or 0) then s_set('x', fmt(want)) end
s_flush()
s_outlive(want - now)
if want > now and redis.call('EXISTS', log) == 1 then
  local current = redis.call('PTTL', log)
  if current == -1 or current < math.ceil((want - now) / 1000) then expire_ms(log, want - now) end
end
local leases = 0
for j = first + 6 * n, #ARGV do
  if not redis.call('ZSCORE', conc, ARGV[j]) then
    redis.call('ZADD', conc, fmt(now + ttl), ARGV[j])
    leases = leases + 1
  end
end
if leases > 0 then
  local current = redis.call('PTTL', conc)
  if current == -1 or current < math.ceil((ttl + slack) / 1000) then expire_ms(conc, ttl + slack) end
end
return { added, born }
`,
);
