import { AMOUNTS, BUCKETS, OTHERS, PRELUDE, script } from './prelude.js';

/**
 * Learns others' share of one window from what the provider says remains, as the memory store
 * does (`learnOthersShare`): the least others must have used is the limit, minus what every
 * process of the key had in the window since the server answered, minus what remains; it counts
 * until `until`; no earlier observation holds more than the server says is used now (`total`); a
 * 429 let through adds a request of headroom (at most `headroomMax`) while a share is in force.
 *
 * KEYS: log, state, others. ARGV: field, tokens (0 = a request window, 1 = a token window),
 * dimension (0 = input + output, 1 = input, 2 = output), limit, span, since (microseconds before
 * now), remaining, until (microseconds after now), foreign (1: the report is about a limit of the
 * server's own: no total), refused (1: a 429 that got through), headroomMax, slack, bucket width
 * (0: an exact window; else ours is what its buckets held at `since`).
 * Reply: the level in force afterwards (a string).
 */
export const LEARN_OTHERS = script(
  'learn-others',
  `${PRELUDE}${AMOUNTS}${BUCKETS}${OTHERS}
local log, others = KEYS[1], KEYS[3]
S_key = KEYS[2]
local field = ARGV[1]
local tokens, dim = ARGV[2] == '1', tonumber(ARGV[3])
local limit, span = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_us()
local since = now - tonumber(ARGV[6])
local remaining = tonumber(ARGV[7])
local until_ = now + tonumber(ARGV[8])
local foreign, refused = ARGV[9] == '1', ARGV[10] == '1'
local headroom_max, slack = tonumber(ARGV[11]), tonumber(ARGV[12])
local width = tonumber(ARGV[13])

-- Ours, as the server may have counted them: every entry in the window at any moment since.
local used = 0
if width > 0 then
  -- The buckets still counted at \`since\`: the total, less those that had left by then.
  local g = { w = width, s = span, k = ARGV[13] }
  load_buckets()
  local n, a, b = b_total(g)
  local first = s_num(g.k .. ':c')
  if first ~= nil then
    local fields = {}
    for idx = first, b_live(g, since) - 1 do fields[#fields + 1] = b_field(g, idx) end
    s_load(fields)
    for _, f in ipairs(fields) do
      local x, y, z = trip(s_get(f))
      n, a, b = n - x, a - y, b - z
    end
  end
  if tokens then used = math.max(0, b_part(dim, n, a, b, 0)) else used = math.max(0, n) end
elseif not tokens then
  used = redis.call('ZCOUNT', log, '(' .. fmt(since - span), '+inf')
else
  local ids = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(since - span), '+inf')
  for c = 1, #ids, 1000 do
    local values = redis.call('HMGET', S_key, unpack(ids, c, math.min(c + 999, #ids)))
    for v = 1, #values do
      local a, b = parse_amount(values[v])
      if dim == 0 then used = used + a + b elseif dim == 1 then used = used + a else used = used + b end
    end
  end
end
local seen = limit - used - remaining
if not tokens then seen = math.floor(seen) end

load_others()
local list, headroom = others_parse(redis.call('HGET', others, field))
local kept = {}
for _, e in ipairs(list) do
  -- Nobody can hold more of the window than what the server says everyone uses now.
  if not foreign and e[1] > limit - remaining then e[1] = limit - remaining end
  -- Gone, or dominated by the new observation (it saw as much and lasts as long).
  if e[2] > now and e[1] > 0 and not (seen > 0 and e[1] <= seen and e[2] <= until_) then kept[#kept + 1] = e end
end
if seen > 0 and until_ > now then kept[#kept + 1] = { seen, until_ } end
if refused and not tokens and remaining < 1 then
  if others_level(kept, 0, now) == 0 then
    if until_ > now then kept[#kept + 1] = { 1, until_ } end
  elseif headroom < headroom_max then
    headroom = headroom + 1
  end
end
if others_level(kept, 0, now) == 0 then headroom = 0 end

local parts, last = {}, now
for _, e in ipairs(kept) do
  parts[#parts + 1] = fmt(e[1]) .. '/' .. fmt(e[2])
  if e[2] > last then last = e[2] end
end
if #parts == 0 then
  redis.call('HDEL', others, field)
else
  redis.call('HSET', others, field, table.concat(parts, ';') .. '|' .. fmt(headroom))
  local want = math.ceil((last - now + slack) / 1000)
  if redis.call('PTTL', others) < want then redis.call('PEXPIRE', others, int(want)) end
  -- Admissions read the shares only while one is in force.
  if last > (s_num('ox') or 0) then
    s_set('ox', fmt(last))
    s_flush()
    s_outlive(last - now + slack)
  end
end
local level = others_level(kept, headroom, now)
return fmt(level)
`,
);
