import { PRELUDE, script } from './prelude.js';

/**
 * Holds every admission, in every process, for a while from now; never shortens a longer pause.
 *
 * KEYS: pause, clock. ARGV: duration, slack (microseconds). Reply: { now, until }.
 */
export const PAUSE = script(
  'pause',
  `${PRELUDE}
local pause_key, clock_key = KEYS[1], KEYS[2]
local duration, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_us(clock_key)
local until_ = now + duration
local current = tonumber(redis.call('GET', pause_key))
if current ~= nil and current >= until_ then return { now, current } end
redis.call('SET', pause_key, fmt(until_), 'PX', string.format('%d', math.ceil((duration + slack) / 1000)))
return { now, until_ }
`,
);

/**
 * The outage probe: answered only by the node that serves the quota's keys (in a cluster, the
 * master owning their slot), so a live node elsewhere is not taken for the quota's recovery.
 *
 * KEYS: clock. Reply: 1 when the quota's clock key exists, else 0.
 */
export const PROBE = script('probe', "return redis.call('EXISTS', KEYS[1])");
