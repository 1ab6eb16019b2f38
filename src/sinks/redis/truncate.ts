/**
 * TRUNCATE in the Redis sink, ordered like every other change. A truncate event has no key, so it
 * arrives on partition 0 while changes committed after it may already have been applied from other
 * partitions, and changes committed before it may still arrive later. So a truncate at position T
 * (versionString, "<commit lsn>:<seq>", fixed width, compared as strings):
 *   - removes only keys whose row version (`cdc:ver@<namespace>:<key>`, or the legacy `cdc:ver:<key>`
 *     before a key's first write after the upgrade, see ./scripts.ts) is older than T — or that carry no
 *     version (invalidation-only keys: removing a cache entry is always safe);
 *   - records T as the table's watermark in the offsets hash (field `truncate:<schema.table>`), in
 *     the same MULTI/EXEC as its effects and the offsets, so it is durable exactly when they are;
 *   - from then on, versioned writes/deletes of that table older than the watermark are dropped
 *     before they reach the MULTI (the watermark is read under the WATCH of the offsets hash, so a
 *     truncate committed meanwhile by another process aborts the EXEC and the batch is re-planned).
 */
import { TruncateWatermarks } from '../kit/index.js';
import type { RedisOp } from './plan.js';

/** Offsets-hash field holding a table's truncate watermark (topic names cannot contain ':'). */
export const truncateField = (table: string): string => `truncate:${table}`;

/**
 * KEYS = triples (value key, its version key, its legacy version key); ARGV[1] = truncate version.
 * Unlinks each value key (and its version keys) whose version — the namespaced one, else the legacy
 * one — is missing or older than ARGV[1]. Returns how many keys it kept (written after the truncate).
 */
export const TRUNCATE_SCRIPT = `
local kept = 0
for i = 1, #KEYS, 3 do
  local ver = redis.call('GET', KEYS[i + 1])
  if not ver then ver = redis.call('GET', KEYS[i + 2]) end
  if ver and ver >= ARGV[1] then
    kept = kept + 1
  else
    redis.call('UNLINK', KEYS[i], KEYS[i + 1], KEYS[i + 2])
  end
end
return kept
`;

type Versioned = Extract<RedisOp, { kind: 'write' | 'delete' }>;

/** Version strings are fixed width (kit versionString): string order is position order. */
const compareVersions = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The watermark each table of `ops` ends at (the kit's TruncateWatermarks, invariants W1–W3): the
 * stored one raised by the truncates among `ops`. `stored` maps table → stored watermark (absent:
 * never truncated).
 */
export function watermarks(ops: readonly RedisOp[], stored: ReadonlyMap<string, string>): TruncateWatermarks<string> {
  const out = new TruncateWatermarks(compareVersions, stored);
  for (const op of ops) if (op.kind === 'truncate') out.raise(op.table, op.version);
  return out;
}

/** True when a versioned op is older than its table's watermark (the truncate removed or will remove it). */
export function belowWatermark(op: Versioned, marks: TruncateWatermarks<string>): boolean {
  return marks.below(op.table, op.version);
}

/** Tables whose watermark a commit of these ops needs (versioned ops and truncates). */
export function watermarkTables(ops: readonly RedisOp[]): string[] {
  const out = new Set<string>();
  for (const op of ops) if (op.kind === 'write' || op.kind === 'delete' || op.kind === 'truncate') out.add(op.table);
  return [...out];
}
