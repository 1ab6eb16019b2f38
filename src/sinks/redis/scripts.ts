/**
 * Lua scripts for write-through mode. Versions are fixed-width strings "<commit lsn, 20 digits>:<seq,
 * 10 digits>" so Lua compares them as strings (Lua numbers are doubles and cannot hold an LSN).
 * The version of a row lives in a companion key so the cached value stays the plain row JSON
 * applications expect.
 *
 * Version keys are namespaced per sink: `cdc:ver@<namespace>:<key>`, the namespace being the sink's
 * consumer group id (`group.id`, default `cdc-fanout.<pipeline>.<sink>`), or — for rows of a rebuilt
 * generation — the generation's key namespace `g<N>-<hash>` (./namespace.ts). Two sinks (two
 * pipelines on one Redis) or two generations of a sink never read each other's versions (LSNs of
 * different databases or slots are not comparable), and a sink's version keys can be found and
 * dropped with its offsets or its generation.
 *
 * Upgrade path (releases before the namespace wrote `cdc:ver:<key>`): every script also gets the
 * legacy key (KEYS[3], `legacyVersionKey`) and reads it when the namespaced one is missing, so an
 * existing cache keeps its staleness protection across the upgrade; the first write or delete of a
 * key moves its version to the namespaced key and removes the legacy one. `@` cannot start the rest
 * of a legacy key's prefix `cdc:ver:`, so the two forms never collide. Legacy keys of rows never
 * written again stay until their TTL (markers) or for good (rows without ttl.ms); they are only read.
 */

export { versionString } from '../kit/index.js';

/** The namespaced version key of a value key. */
export const versionKey = (namespace: string, key: string): string => `cdc:ver@${namespace}:${key}`;

/** The version key of releases before the namespace (read as a fallback, removed on the next write). */
export const legacyVersionKey = (key: string): string => `cdc:ver:${key}`;

/** Sentinel written in place of an unchanged-TOAST column; the script swaps in the stored value. */
export const toastSentinel = (i: number): string => `\u0000cdc-toast:${i}`;

/**
 * KEYS[1] = value key, KEYS[2] = version key, KEYS[3] = legacy version key (read when KEYS[2] is
 * missing, removed whenever KEYS[2] is written).
 * ARGV[1] = version, ARGV[2] = row JSON, ARGV[3] = ttl ms (0 = none), ARGV[4] = marker ttl ms,
 * ARGV[5..] = names of unchanged-TOAST columns (their sentinel i = position - 5).
 * Returns 1 written, 0 stale (stored version >= this one), 2 invalidated (TOAST columns but no stored
 * row, or a stored row without that column or not a JSON object: the key is removed rather than
 * cached incomplete).
 *
 * Invariant: the merge copies each stored column's value as its exact JSON *text*. It never decodes
 * and re-encodes values through cjson, which would round numbers to 14 significant digits, turn []
 * into {} and re-escape strings. Only the (string) member names are decoded, to match column names.
 */
export const WRITE_SCRIPT = `
local cur = redis.call('GET', KEYS[2])
if not cur then cur = redis.call('GET', KEYS[3]) end
if cur and cur >= ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[3])
local json = ARGV[2]
local ttl = tonumber(ARGV[3])
local marker = tonumber(ARGV[4])

local function ws(s, i)
  local _, e = string.find(s, '^[ \\t\\r\\n]*', i)
  return e + 1
end
-- index just past the JSON string that starts at i
local function strend(s, i)
  local j = i + 1
  while true do
    local c = string.find(s, '["\\\\]', j)
    if not c then error('unterminated string') end
    if string.sub(s, c, c) == '"' then return c + 1 end
    j = c + 2
  end
end
-- index just past the JSON value that starts at i
local function valend(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return strend(s, i) end
  if c == '{' or c == '[' then
    local depth = 0
    local j = i
    while true do
      local k = string.find(s, '["{}%[%]]', j)
      if not k then error('unterminated value') end
      local ch = string.sub(s, k, k)
      if ch == '"' then
        j = strend(s, k)
      else
        if ch == '{' or ch == '[' then depth = depth + 1 else depth = depth - 1 end
        j = k + 1
        if depth == 0 then return j end
      end
    end
  end
  local _, e = string.find(s, '^[^,}%]%s]+', i)
  if not e then error('bad value') end
  return e + 1
end
-- top-level members of a JSON object: name -> exact value text
local function members(s)
  local out = {}
  local i = ws(s, 1)
  if string.sub(s, i, i) ~= '{' then error('not an object') end
  i = ws(s, i + 1)
  if string.sub(s, i, i) == '}' then return out end
  while true do
    local ke = strend(s, i)
    local name = cjson.decode(string.sub(s, i, ke - 1))
    i = ws(s, ke)
    if string.sub(s, i, i) ~= ':' then error('expected :') end
    i = ws(s, i + 1)
    local ve = valend(s, i)
    out[name] = string.sub(s, i, ve - 1)
    i = ws(s, ve)
    local c = string.sub(s, i, i)
    if c == '}' then return out end
    if c ~= ',' then error('expected ,') end
    i = ws(s, i + 1)
  end
end

if #ARGV > 4 then
  local stored = redis.call('GET', KEYS[1])
  local ok, obj = false, nil
  if stored then ok, obj = pcall(members, stored) end
  if ok then
    for i = 5, #ARGV do
      if obj[ARGV[i]] == nil then ok = false end
    end
  end
  if not ok then
    redis.call('UNLINK', KEYS[1])
    redis.call('SET', KEYS[2], ARGV[1], 'PX', marker)
    return 2
  end
  for i = 5, #ARGV do
    local needle = '"\\\\u0000cdc-toast:' .. (i - 5) .. '"'
    local s, e = string.find(json, needle, 1, true)
    if s then json = string.sub(json, 1, s - 1) .. obj[ARGV[i]] .. string.sub(json, e + 1) end
  end
end
if ttl > 0 then
  redis.call('SET', KEYS[1], json, 'PX', ttl)
  redis.call('SET', KEYS[2], ARGV[1], 'PX', math.max(ttl, marker))
else
  redis.call('SET', KEYS[1], json)
  redis.call('SET', KEYS[2], ARGV[1])
end
return 1
`;

/**
 * KEYS[1] = value key, KEYS[2] = version key, KEYS[3] = legacy version key (as in WRITE_SCRIPT).
 * ARGV[1] = version, ARGV[2] = marker ttl ms.
 * Removes the row and leaves the version as a short-lived tombstone marker. Returns 1, or 0 if stale.
 */
export const DELETE_SCRIPT = `
local cur = redis.call('GET', KEYS[2])
if not cur then cur = redis.call('GET', KEYS[3]) end
if cur and cur >= ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[3])
redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`;
