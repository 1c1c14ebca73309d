import { createHash } from 'node:crypto';

/*
 * The Lua side of the Redis store: every operation is one script, so each is atomic and costs one
 * round trip. This file holds what the scripts share; each family of scripts has a file of its own
 * beside it. Conventions shared by all of them:
 * - Times are integer microseconds from `redis.call('TIME')`, never below the last time seen
 *   (the state's `clock`), so a server clock stepping back cannot reopen a window.
 *   Microseconds since 1970 (about 1.8e15) are exact in a Lua double and in a Redis integer reply.
 * - Numbers handed to `redis.call` as text go through `fmt` ('%.17g') or `int` ('%d'): Lua's
 *   `tostring` keeps only 14 digits, which would move scores by up to 100 microseconds.
 * - Conversions cost: `tonumber` of a string parses it twice, `s + 0` once, and a `string.format`
 *   costs several times more. The hot scripts read numbers as `s + 0` (only ever of numeric text
 *   they wrote or were sent), read each state field once (`s_num` keeps the number), and write
 *   numbers once, when the state is flushed.
 * - Scripts answer status tuples and never call `error()` (Redis 7 would prefix the message
 *   with `ERR `, and a half-applied script is worse than an answer the client can act on).
 * - Every key comes through KEYS and shares one hash tag, so Redis Cluster accepts the scripts.
 * - Every write keeps the written key's expiry, so an abandoned quota leaves nothing behind.
 *
 * Where a quota's windows live:
 * - Windows under an hour are exact: the log (a sorted set of entry id -> start) keeps every entry
 *   for `keep` (the longest such window; ten seconds when there is none), and the state hash keeps each
 *   entry's charge under its id ("input,output[,spend]") with the running totals of the log's charges
 *   (`in`, `out`, `sp`) and its count (`n`). A window far from its limit is checked from them without
 *   reading an entry; a request window close to it counts its entries (ZCOUNT), and a token budget
 *   close to it reads the entries of its window, a budget's worth at most.
 * - Windows of an hour or more are kept in buckets (the memory store's rule): each bucket sums the
 *   requests and charges that started in one hundredth of the window ("<width>:<index>" ->
 *   "requests,input,output[,spend]" in the state hash), and counts in full until its end leaves the window,
 *   so it never counts less than the exact log (never over the limit) and holds back at most one
 *   bucket's worth. A window's total ("<width>:t") is kept as buckets come and go, and "<width>:c"
 *   is the oldest bucket it may still count. An admission costs the same with ten entries in the
 *   day or ten million; one waiting for room reads the window's buckets, a hundred or so.
 * - The state hash also holds `clock` (the latest server time seen), `born` (when the state was
 *   created: an entry older than it is not in the buckets), `pause`, `newest` (the latest start:
 *   new entries never start before it), `prune` (when the log next has entries to drop: see BATCH
 *   in lua/admit-parts.ts), `ox`
 *   (until when others' shares are in force), `x` (until when the keys' expiry is set), and `table`
 *   (text too long for a listpack: the hash is a hash table, see `s_create`).
 * Entry ids always contain a '.', which no other field of the state does.
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

/**
 * Numbers and charges as text: `fmt` ('%.17g'), `int` ('%d'), `txt` (whole numbers, every time and
 * span, by the cheaper '%d'), and `amount_text`, an entry's charge as the state keeps it.
 */
export const FORMAT = `
local function fmt(x) return string.format('%.17g', x) end
local function int(x) return string.format('%d', x) end
local function txt(x)
  if x % 1 == 0 and x > -9e15 and x < 9e15 then return string.format('%d', x) end
  return string.format('%.17g', x)
end
-- From the amounts as text: "input,output", and ",spend" when it has one.
local function amount_text(a, b, c)
  if c ~= nil and c ~= '0' and c + 0 ~= 0 then return a .. ',' .. b .. ',' .. c end
  return a .. ',' .. b
end
`;

/**
 * Helpers every script may call: `expire_ms`, and the state hash read through a
 * cache (`s_load` reads many fields in one HMGET, `s_get` one, `s_num` as a number) and written once
 * (`s_set`, then `s_flush` sends one HSET and one HDEL); `s_create` makes a new state. A script sets
 * `S_key` first.
 */
export const STATE = `
local function expire_ms(key, us)
  local ms = math.ceil(us / 1000)
  if ms < 1 then ms = 1 end
  redis.call('PEXPIRE', key, int(ms))
end
local S_key = nil
-- The fields as read (text, or the number once read as one), or false when absent; and the
-- fields to write (true).
local S, S_dirty = {}, {}
local function s_load(fields)
  local want = fields
  for k = 1, #fields do
    if S[fields[k]] ~= nil then
      -- Some are known: ask for the others only.
      want = {}
      for _, f in ipairs(fields) do if S[f] == nil then want[#want + 1] = f end end
      break
    end
  end
  for c = 1, #want, 1000 do
    local last = math.min(c + 999, #want)
    local values = redis.call('HMGET', S_key, unpack(want, c, last))
    for v = c, last do S[want[v]] = values[v - c + 1] or false end
  end
end
local function s_get(f)
  local v = S[f]
  if v == nil then
    v = redis.call('HGET', S_key, f) or false
    S[f] = v
  end
  if v == false then return nil end
  return v
end
-- A field as a number (parsed once: the number replaces its text), or nil.
local function s_num(f)
  local v = s_get(f)
  if type(v) == 'string' then
    v = v + 0
    S[f] = v
  end
  return v
end
-- A value to write (text, or a number: turned into text once, when flushed), or false to delete.
local function s_set(f, v)
  S[f] = v
  S_dirty[f] = true
end
-- Creates the state: its generation (\`born\`), and \`table\`, a field too long for a listpack
-- (\`hash-max-listpack-value\` is 64 bytes by default), so the hash is a hash table from the start.
-- As a listpack (up to 512 fields by default, the charges of a few hundred entries) every field
-- read or added would scan it end to end.
local function s_create(now_text)
  s_set('born', now_text)
  s_set('table', 'a hash table from its creation: every field is found in one step, however many entries the log holds')
end
local function s_flush()
  local sets, dels, n_sets, n_dels = {}, nil, 0, 0
  -- A field marked false was named only to size the table.
  for f, dirty in pairs(S_dirty) do
    if dirty then
      local v = S[f]
      if type(v) == 'number' then v = txt(v) end
      if v then
        sets[n_sets + 1], sets[n_sets + 2] = f, v
        n_sets = n_sets + 2
      else
        dels = dels or {}
        n_dels = n_dels + 1
        dels[n_dels] = f
      end
    end
  end
  if n_sets > 0 and n_sets <= 1000 then
    redis.call('HSET', S_key, unpack(sets, 1, n_sets))
  else
    for c = 1, n_sets, 1000 do redis.call('HSET', S_key, unpack(sets, c, math.min(c + 999, n_sets))) end
  end
  for c = 1, n_dels, 1000 do redis.call('HDEL', S_key, unpack(dels, c, math.min(c + 999, n_dels))) end
  S_dirty = {}
end
`;

/** The shared clock (`now_us`) and `s_outlive`: for every script but admit, which reads TIME beside its state. */
export const CLOCK = `
local function now_us()
  local t = redis.call('TIME')
  local now = t[1] * 1000000 + t[2]
  local last = s_num('clock')
  if last ~= nil and last > now then now = last end
  return now
end
-- Makes sure the state outlives \`us\` from now (a script other than admit writing it).
local function s_outlive(us)
  local ms = math.ceil(us / 1000)
  local ttl = redis.call('PTTL', S_key)
  if ttl == -1 or ttl < ms then redis.call('PEXPIRE', S_key, int(ms)) end
end
`;

/** The formats, the state helpers and the clock: what every script but admit starts with. */
export const PRELUDE = `${FORMAT}${STATE}${CLOCK}`;

/**
 * Token charges of the exact windows: each entry's "input,output" in the state under its id, with
 * the log's totals in \`in\` and \`out\`.
 */
export const AMOUNTS = `
local function parse_amount(value)
  if not value then return 0, 0, 0 end
  local a, b, c = string.match(value, '^([^,]*),([^,]*),?(.*)$')
  return tonumber(a) or 0, tonumber(b) or 0, tonumber(c) or 0
end
local function shift_totals(d_in, d_out, d_sp)
  if d_in ~= 0 then s_set('in', math.max(0, (s_num('in') or 0) + d_in)) end
  if d_out ~= 0 then s_set('out', math.max(0, (s_num('out') or 0) + d_out)) end
  if d_sp ~= 0 then s_set('sp', math.max(0, (s_num('sp') or 0) + d_sp)) end
end
-- The log's entry count: a bound on every exact request window's count.
local function shift_count(d) s_set('n', math.max(0, (s_num('n') or 0) + d)) end
local function totals() return s_num('in') or 0, s_num('out') or 0, s_num('sp') or 0 end
-- Sums of fractional charges drift; an empty log is exactly zero, and its expiry is set anew.
local function settle_totals(log)
  if redis.call('ZCARD', log) == 0 then
    s_set('in', false)
    s_set('out', false)
    s_set('sp', false)
    s_set('n', false)
    s_set('prune', false)
    s_set('x', false)
  end
end
`;

/**
 * The buckets of the windows of an hour or more (see the top of this file). A group is every such
 * window of one span: \`{ w = width, s = span, k = field prefix }\`, all in microseconds.
 */
export const BUCKETS = `
-- The amount of a bucket, total or charge in dimension \`dim\`: 0 = input + output, 1 = input,
-- 2 = output, 3 = spend (the layout's token window kinds, in order), 4 = requests.
local function b_part(dim, n, a, b, c)
  if dim == 0 then return a + b elseif dim == 1 then return a elseif dim == 2 then return b elseif dim == 3 then return c end
  return n
end
local trip, trip_fmt, b_field, b_index, b_live, b_total, b_retire, b_add, b_frees
-- Defines the functions above: only a script whose quota has bucket groups pays for them.
local function load_buckets()
  -- A bucket or total: "requests,input,output", and ",spend" when it has one.
  function trip(v)
    if not v then return 0, 0, 0, 0 end
    local a, b, c, d = string.match(v, '^([^,]*),([^,]*),([^,]*),?(.*)$')
    return tonumber(a) or 0, tonumber(b) or 0, tonumber(c) or 0, tonumber(d) or 0
  end
  function trip_fmt(a, b, c, d)
    local text = fmt(a) .. ',' .. fmt(b) .. ',' .. fmt(c)
    if d ~= 0 then text = text .. ',' .. fmt(d) end
    return text
  end
  function b_field(g, idx) return g.k .. ':' .. int(idx) end
  function b_index(g, t) return math.floor(t / g.w) end
  -- The oldest bucket still in the window at \`now\`: a bucket counts until its end plus the span.
  function b_live(g, now) return math.floor((now - g.s) / g.w) end
  -- The group's total: requests, input, output.
  function b_total(g) return trip(s_get(g.k .. ':t')) end
  -- Drops the buckets that have left the window by \`now\` from the total (newest: the latest start).
  function b_retire(g, now, newest)
    local live = b_live(g, now)
    local c = s_num(g.k .. ':c')
    if c ~= nil and c >= live then return end
    s_set(g.k .. ':c', live)
    if c == nil then return end
    local hi = math.min(live - 1, b_index(g, newest))
    if hi < c then return end
    local fields = {}
    for idx = c, hi do fields[#fields + 1] = b_field(g, idx) end
    s_load(fields)
    local n, a, b, c = 0, 0, 0, 0
    for _, f in ipairs(fields) do
      local x, y, z, w = trip(s_get(f))
      n, a, b, c = n + x, a + y, b + z, c + w
      if S[f] then s_set(f, false) end
    end
    if live > b_index(g, newest) then
      -- Every bucket has gone: the total is exactly zero.
      s_set(g.k .. ':t', false)
    elseif n ~= 0 or a ~= 0 or b ~= 0 or c ~= 0 then
      local tn, ta, tb, tc = b_total(g)
      s_set(g.k .. ':t', trip_fmt(math.max(0, tn - n), math.max(0, ta - a), math.max(0, tb - b), math.max(0, tc - c)))
    end
  end
  -- Adds (or with negative amounts takes) a start at \`t\` to its bucket, if that still counts.
  function b_add(g, t, dn, da, db, dc)
    local idx = b_index(g, t)
    local c = s_num(g.k .. ':c')
    if c ~= nil and idx < c then return end
    if c == nil then s_set(g.k .. ':c', idx) end
    local f = b_field(g, idx)
    local n, a, b, d = trip(s_get(f))
    s_set(f, trip_fmt(math.max(0, n + dn), math.max(0, a + da), math.max(0, b + db), math.max(0, d + dc)))
    local tn, ta, tb, td = b_total(g)
    s_set(g.k .. ':t', trip_fmt(math.max(0, tn + dn), math.max(0, ta + da), math.max(0, tb + db), math.max(0, td + dc)))
  end
  -- When \`excess\` of dimension \`dim\` has left the group's window: walks its buckets from the oldest.
  function b_frees(g, dim, excess, newest)
    local c = s_num(g.k .. ':c') or 0
    local hi = b_index(g, newest)
    local fields = {}
    for idx = c, hi do fields[#fields + 1] = b_field(g, idx) end
    s_load(fields)
    local freed = 0
    for idx = c, hi do
      freed = freed + b_part(dim, trip(s_get(b_field(g, idx))))
      if freed >= excess then return (idx + 1) * g.w + g.s end
    end
    -- Sums of fractional amounts can fall a hair short of the excess: then all must leave.
    return (hi + 1) * g.w + g.s
  end
end
-- The bucket groups from ARGV[i] on (loading the bucket functions if there is one), and the index after them.
local function groups_parse(i)
  local groups = {}
  local n = ARGV[i] + 0; i = i + 1
  if n > 0 then load_buckets() end
  for g = 1, n do
    groups[g] = { w = ARGV[i] + 0, s = ARGV[i + 1] + 0, k = ARGV[i] }
    i = i + 2
  end
  return groups, i
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
local others_parse, others_level
-- Defines the functions above: a script pays for them only when a share is in force.
local function load_others()
  function others_parse(value)
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
  function others_level(list, headroom, now)
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
end
`;
