/**
 * Lua scripts for write-through mode. Versions are fixed-width strings "<commit lsn, 20 digits>:<seq,
 * 10 digits>" so Lua compares them as strings (Lua numbers are doubles and cannot hold an LSN).
 * The version of a row lives in a companion key (`cdc:ver:<key>`) so the cached value stays the plain
 * row JSON applications expect.
 */
import type { Position } from '../../events/change.js';

export function versionString(p: Position): string {
  return `${p.commitLsn.toString().padStart(20, '0')}:${String(p.seq).padStart(10, '0')}`;
}

export const versionKey = (key: string): string => `cdc:ver:${key}`;

/** Sentinel written in place of an unchanged-TOAST column; the script swaps in the stored value. */
export const toastSentinel = (i: number): string => `\u0000cdc-toast:${i}`;

/**
 * KEYS[1] = value key, KEYS[2] = version key.
 * ARGV[1] = version, ARGV[2] = row JSON, ARGV[3] = ttl ms (0 = none), ARGV[4] = marker ttl ms,
 * ARGV[5..] = names of unchanged-TOAST columns (their sentinel i = position - 5).
 * Returns 1 written, 0 stale (stored version >= this one), 2 invalidated (TOAST columns but no stored
 * row to take them from: the key is removed rather than cached incomplete).
 */
export const WRITE_SCRIPT = `
local cur = redis.call('GET', KEYS[2])
if cur and cur >= ARGV[1] then return 0 end
local json = ARGV[2]
local ttl = tonumber(ARGV[3])
local marker = tonumber(ARGV[4])
if #ARGV > 4 then
  local stored = redis.call('GET', KEYS[1])
  if not stored then
    redis.call('UNLINK', KEYS[1])
    redis.call('SET', KEYS[2], ARGV[1], 'PX', marker)
    return 2
  end
  local obj = cjson.decode(stored)
  for i = 5, #ARGV do
    local v = obj[ARGV[i]]
    local enc = 'null'
    if v ~= nil then enc = cjson.encode(v) end
    local needle = '"\\\\u0000cdc-toast:' .. (i - 5) .. '"'
    local s, e = string.find(json, needle, 1, true)
    if s then json = string.sub(json, 1, s - 1) .. enc .. string.sub(json, e + 1) end
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
 * KEYS[1] = value key, KEYS[2] = version key. ARGV[1] = version, ARGV[2] = marker ttl ms.
 * Removes the row and leaves the version as a short-lived tombstone marker. Returns 1, or 0 if stale.
 */
export const DELETE_SCRIPT = `
local cur = redis.call('GET', KEYS[2])
if cur and cur >= ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`;
