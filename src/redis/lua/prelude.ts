import { createHash } from 'node:crypto';

/*
 * The Lua side of the Redis store: every operation is one script, so each is atomic and costs one
 * round trip. This file holds what the scripts share; each family of scripts has a file of its own
 * beside it. Conventions shared by all of them:
 * - Times are integer microseconds from `redis.call('TIME')`, never below the last time seen
 *   (kept in the clock key), so a server clock stepping back cannot reopen a window.
 *   Microseconds since 1970 (about 1.8e15) are exact in a Lua double and in a Redis integer reply.
 * - Numbers handed to `redis.call` go through `fmt` ('%.17g'): Lua's `tostring` keeps only 14
 *   digits, which would move scores by up to 100 microseconds.
 * - Scripts answer status tuples and never call `error()` (Redis 7 would prefix the message
 *   with `ERR `, and a half-applied script is worse than an answer the client can act on).
 * - Every key comes through KEYS and shares one hash tag, so Redis Cluster accepts the scripts.
 * - Every write refreshes the written key's expiry, so an abandoned quota leaves nothing behind.
 */

/** One Lua script with its SHA1, for EVALSHA. */
export interface RedisScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** A script with its SHA1 computed once, at load. */
export function script(name: string, source: string): RedisScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Helpers every script may call: `fmt`, `now_us` (the shared clock) and `expire_ms`. */
export const PRELUDE = `
local function fmt(x) return string.format('%.17g', x) end
local function now_us(clock_key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', clock_key))
  if last ~= nil and last > now then now = last end
  return now
end
local function expire_ms(key, us)
  local ms = math.ceil(us / 1000)
  if ms < 1 then ms = 1 end
  redis.call('PEXPIRE', key, string.format('%d', ms))
end
`;

/*
 * Token charges: the amt hash maps each entry id to "input,output" and keeps running totals of
 * every charge in the log in the fields '#in' and '#out' (ids never start with '#'). A budget far
 * from its limit is then checked without reading a single entry; only one close to it walks the
 * entries of its window, and those are few (a budget's worth).
 */
export const AMOUNTS = `
local function parse_amount(value)
  if not value then return 0, 0 end
  local a, b = string.match(value, '^([^,]*),(.*)$')
  return tonumber(a) or 0, tonumber(b) or 0
end
local function shift_totals(amt, d_in, d_out)
  if d_in ~= 0 then redis.call('HINCRBYFLOAT', amt, '#in', fmt(d_in)) end
  if d_out ~= 0 then redis.call('HINCRBYFLOAT', amt, '#out', fmt(d_out)) end
end
-- Sums of fractional charges drift; an empty log is exactly zero.
local function settle_totals(log, amt)
  if redis.call('ZCARD', log) == 0 then redis.call('HDEL', amt, '#in', '#out') end
end
local function totals(amt)
  local v = redis.call('HMGET', amt, '#in', '#out')
  local t_in, t_out = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if t_in < 0 then t_in = 0 end
  if t_out < 0 then t_out = 0 end
  return t_in, t_out
end
local function forget_entry(log, amt, x)
  local removed = redis.call('ZREM', log, x)
  local value = redis.call('HGET', amt, x)
  if value then
    local a, b = parse_amount(value)
    redis.call('HDEL', amt, x)
    shift_totals(amt, -a, -b)
  end
  return removed
end
`;

/*
 * Others' share of a window (clients outside forestall, as the provider's headers show them), the
 * memory store's rule kept in Redis so every process of the key holds it: the hash `others` maps a
 * window ("r:<limit>:<span>" for requests, "t:<dimension>:<limit>:<span>" for tokens) to its
 * observations, "seen/until;...", then "|" and the headroom 429s that got through added. The level
 * is the largest observation still in force, plus the headroom while there is one.
 */
export const OTHERS = `
local function others_parse(value)
  local list, headroom = {}, 0
  if not value then return list, headroom end
  local body, h = string.match(value, '^(.*)|([^|]*)$')
  headroom = tonumber(h) or 0
  for seen, until_ in string.gmatch(body or '', '([^/;]+)/([^;]+)') do
    list[#list + 1] = { tonumber(seen), tonumber(until_) }
  end
  return list, headroom
end
-- The level at now, and when it falls to 0 if nothing more is learned.
local function others_level(list, headroom, now)
  local level, lapse = 0, now
  for _, e in ipairs(list) do
    if e[2] > now then
      if e[1] > level then level = e[1] end
      if e[2] > lapse then lapse = e[2] end
    end
  end
  if level == 0 then return 0, now end
  return level + headroom, lapse
end
`;
