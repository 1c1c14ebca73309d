import { AMOUNTS, OTHERS, PRELUDE, script } from './prelude.js';

/**
 * Learns others' share of one window from what the provider says remains, as the memory store
 * does (`learnOthersShare`): the least others must have used is the limit, minus what every
 * process of the key had in the window since the server answered, minus what remains; it counts
 * until `until`; no earlier observation holds more than the server says is used now (`total`); a
 * 429 let through adds a request of headroom (at most `headroomMax`) while a share is in force.
 *
 * KEYS: log, amt, others, clock. ARGV: field, tokens (0 = a request window, 1 = a token window),
 * dimension (0 = input + output, 1 = input, 2 = output), limit, span, since (microseconds before
 * now), remaining, until (microseconds after now), foreign (1: the report is about a limit of the
 * server's own: no total), refused (1: a 429 that got through), headroomMax, slack.
 * Reply: the level in force afterwards (a string).
 */
export const LEARN_OTHERS = script(
  'learn-others',
  `${PRELUDE}${AMOUNTS}${OTHERS}
local log, amt, others, clock_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local field = ARGV[1]
local tokens, dim = ARGV[2] == '1', tonumber(ARGV[3])
local limit, span = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_us(clock_key)
local since = now - tonumber(ARGV[6])
local remaining = tonumber(ARGV[7])
local until_ = now + tonumber(ARGV[8])
local foreign, refused = ARGV[9] == '1', ARGV[10] == '1'
local headroom_max, slack = tonumber(ARGV[11]), tonumber(ARGV[12])

-- Ours, as the server may have counted them: every entry in the window at any moment since.
local used = 0
if not tokens then
  used = redis.call('ZCOUNT', log, '(' .. fmt(since - span), '+inf')
else
  local ids = redis.call('ZRANGEBYSCORE', log, '(' .. fmt(since - span), '+inf')
  for c = 1, #ids, 1000 do
    local values = redis.call('HMGET', amt, unpack(ids, c, math.min(c + 999, #ids)))
    for v = 1, #values do
      local a, b = parse_amount(values[v])
      if dim == 0 then used = used + a + b elseif dim == 1 then used = used + a else used = used + b end
    end
  end
end
local seen = limit - used - remaining
if not tokens then seen = math.floor(seen) end

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
  if redis.call('PTTL', others) < want then redis.call('PEXPIRE', others, string.format('%d', want)) end
end
local level = others_level(kept, headroom, now)
return fmt(level)
`,
);
