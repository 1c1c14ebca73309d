import { PRELUDE, script } from './prelude.js';

/**
 * Holds every admission, in every process, for a while from now; never shortens a longer pause.
 *
 * KEYS: state. ARGV: duration, slack (microseconds). Reply: { now, until }.
 */
export const PAUSE = script(
  'pause',
  `${PRELUDE}
S_key = KEYS[1]
local duration, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_us()
local until_ = now + duration
local current = s_num('pause')
if current ~= nil and current >= until_ then return { now, current } end
s_set('pause', fmt(until_))
s_flush()
s_outlive(duration + slack)
return { now, until_ }
`,
);

/**
 * The outage probe: answered only by the node that serves the quota's keys (in a cluster, the
 * master owning their slot), so a live node elsewhere is not taken for the quota's recovery.
 *
 * KEYS: state. Reply: 1 when the quota's state exists, else 0.
 */
export const PROBE = script('probe', "return redis.call('EXISTS', KEYS[1])");
