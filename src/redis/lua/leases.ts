import { PRELUDE, script } from './prelude.js';

/**
 * Renews leases this process still holds; a lease that already expired is not brought back (its
 * slot may have gone to someone else), and one booked further ahead is never shortened.
 *
 * KEYS: conc, state. ARGV: ttl, slack (microseconds), ids... Reply: how many leases are still held.
 */
export const RENEW = script(
  'renew',
  `${PRELUDE}
local conc = KEYS[1]
S_key = KEYS[2]
local ttl, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_us()
local expiry = now + ttl
local held = 0
for i = 3, #ARGV do
  local current = tonumber(redis.call('ZSCORE', conc, ARGV[i]))
  if current ~= nil and current > now then
    held = held + 1
    if current < expiry then redis.call('ZADD', conc, fmt(expiry), ARGV[i]) end
  end
end
local last = redis.call('ZRANGE', conc, -1, -1, 'WITHSCORES')
if last[2] ~= nil then expire_ms(conc, tonumber(last[2]) - now + slack) end
return held
`,
);
