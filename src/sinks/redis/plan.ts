/**
 * Turns a batch of change records into Redis operations (pure; no I/O). The sink queues the plan in
 * write() and executes it with the offsets in one MULTI/EXEC in commit().
 *
 * Keys come from BOTH images: the `before` row (merged over the record key, so a delete or an
 * update without REPLICA IDENTITY FULL still yields the key-column templates) and the `after` row.
 * Old-value keys of non-key columns (e.g. the previous email) need `before` to carry that column,
 * i.e. REPLICA IDENTITY FULL on the table.
 */
import type { Row } from '../../events/change.js';
import { isUnchangedToast } from '../kit/index.js';
import type { RejectedRecord, SinkRecord } from '../sink.js';
import { toastSentinel, versionKey, versionString } from './scripts.js';
import type { RedisSinkConfig, RedisTableConfig } from './spec.js';
import { parseTemplate, renderKey, type KeyTemplate } from './templates.js';

export interface CompiledTable {
  readonly table: string;
  readonly mode: 'invalidate' | 'write-through' | 'publish';
  readonly templates: readonly KeyTemplate[];
  /** write-through: the template of the key holding the row. */
  readonly writeKey: KeyTemplate | null;
  readonly ttlMs: number;
  readonly channel: string;
}

export type RedisOp =
  | { readonly kind: 'write'; readonly table: string; readonly key: string; readonly verKey: string; readonly version: string; readonly json: string; readonly toastColumns: readonly string[]; readonly ttlMs: number }
  | { readonly kind: 'delete'; readonly table: string; readonly key: string; readonly verKey: string; readonly version: string }
  | { readonly kind: 'unlink'; readonly key: string; readonly table: string; readonly channel: string | null }
  /**
   * `version`: the truncate's position (versionString); only keys older than it are removed.
   * `prefixes`: literal prefixes of the invalidation templates (every template but the write key's);
   * `valuePrefix`: that of the write key (write-through), which lives in the generation's namespace;
   * `namespace`: that namespace once the commit knows it (./namespace.ts `inNamespace`).
   */
  | { readonly kind: 'truncate'; readonly table: string; readonly version: string; readonly prefixes: readonly string[]; readonly valuePrefix: string | null; readonly channel: string | null; readonly namespace?: string | null }
  /** write-through: the table's row shape changed (or was first seen); the sink stores its current shape. */
  | { readonly kind: 'shape'; readonly table: string };

/**
 * The shape (column names) of a write-through table's rows as last seen, with the version of the
 * first change seen in it (every change in an older shape is older: the ALTER holds an ACCESS
 * EXCLUSIVE lock, so writes before it commit before it and writes after it come after), and the version the keys were last invalidated at for a shape change.
 */
export interface RowShape {
  readonly columns: string;
  readonly version: string;
  readonly invalidated?: string;
  /** The version of the change whose planning emitted that invalidation (re-planned: emitted again). */
  readonly invalidatedBy?: string;
}

/** A row's shape: its column names, sorted (JSON, so names with any character compare exactly). */
export const shapeOf = (row: Row): string => JSON.stringify(Object.keys(row).sort());

function compileTable(table: string, t: RedisTableConfig): CompiledTable {
  const templates = t.keys.map(parseTemplate);
  return {
    table,
    mode: t.mode,
    templates,
    writeKey: t.mode === 'write-through' ? (t['write.key'] ? parseTemplate(t['write.key']) : templates[0]!) : null,
    ttlMs: t['ttl.ms'] ?? 0,
    channel: t['publish.channel'],
  };
}

/** `table.default` for one table: `{schema}` and `{table}` in its templates become the table's names. */
export function defaultFor(table: string, t: RedisTableConfig): RedisTableConfig {
  const [schema = '', name = ''] = table.split('.');
  const fill = (s: string): string => s.replaceAll('{schema}', schema).replaceAll('{table}', name);
  return { ...t, keys: t.keys.map(fill), ...(t['write.key'] ? { 'write.key': fill(t['write.key']) } : {}) };
}

/**
 * The configured tables; with `table.default`, any other table (the sink then follows the source's
 * table selection) is compiled from the default on first sight.
 */
class CompiledTables extends Map<string, CompiledTable> {
  constructor(private readonly fallback: RedisTableConfig | undefined) {
    super();
  }

  override get(table: string): CompiledTable | undefined {
    const have = super.get(table);
    if (have || !this.fallback) return have;
    const t = compileTable(table, defaultFor(table, this.fallback));
    this.set(table, t);
    return t;
  }
}

export function compileTables(config: RedisSinkConfig): Map<string, CompiledTable> {
  const out = new CompiledTables(config['table.default']);
  for (const [table, t] of Object.entries(config['table.overrides'])) out.set(table, compileTable(table, t));
  return out;
}

/** The literal prefixes of a table's key templates (what a truncate SCANs). */
/**
 * A truncate-style invalidation of table `t`'s keys older than `version`: the invalidation templates'
 * literal prefixes, and the write key's apart (it lives in the generation's namespace).
 */
const truncateOp = (t: CompiledTable, version: string, channel: string | null): RedisOp => ({
  kind: 'truncate',
  table: t.table,
  version,
  prefixes: [...new Set(t.templates.filter((x) => x !== t.writeKey).map((x) => x.prefix))],
  valuePrefix: t.writeKey?.prefix ?? null,
  channel,
});

const tableOf = (r: SinkRecord): string | null => (r.source ? `${r.source.schema}.${r.source.table}` : null);

function merged(key: Row | null, row: Row | null): Row | null {
  if (!key && !row) return null;
  return { ...(key ?? {}), ...(row ?? {}) };
}

export interface Plan {
  readonly ops: RedisOp[];
  readonly rejected: RejectedRecord[];
  /** Records of tables the config does not list (ignored). */
  readonly ignored: number;
}

/** `versionNamespace`: the sink's namespace of version keys (./scripts.ts, `versionKey`). */
/**
 * Write-through tables: `shapes` (table → RowShape, updated here) is how a changed row shape (ADD,
 * DROP or RENAME COLUMN) is noticed, for the rows nobody changes since: Postgres sends no DDL, and
 * keys written before keep the old JSON shape. When two shapes are seen, at versions v_old < v_new,
 * the table's keys older than v_new's transaction are invalidated — a truncate op at (v_new's commit
 * LSN, seq 0) (./truncate.ts: keys whose version is older are UNLINKed, the watermark is raised, and
 * older changes arriving later, e.g. from a lagging partition, are dropped) — so readers reload those
 * rows from Postgres in the new shape. Keys written since are in the new shape and stay. A change
 * in the older shape that is not older than that (the ALTER's own transaction, before the ALTER)
 * is not cached: its key is UNLINKed instead of written.
 */
export function planRecords(
  records: readonly SinkRecord[],
  tables: ReadonlyMap<string, CompiledTable>,
  truncateMode: RedisSinkConfig['truncate.mode'],
  versionNamespace: string,
  shapes?: Map<string, RowShape>,
): Plan {
  const ops: RedisOp[] = [];
  const rejected: RejectedRecord[] = [];
  let ignored = 0;
  for (const r of records) {
    if (r.op === null || r.op === 'm') continue; // tombstones, logical messages
    const name = tableOf(r);
    const t = name ? tables.get(name) : undefined;
    if (!t) {
      ignored++;
      continue;
    }
    const channel = t.mode === 'publish' ? t.channel : null;
    if (r.op === 't') {
      if (truncateMode === 'delete') {
        ops.push(truncateOp(t, versionString(r.position), channel));
      }
      continue;
    }
    const before = merged(r.key, r.before);
    const after = r.op === 'd' ? null : r.after;
    if (r.op !== 'd' && !after) {
      rejected.push({ record: r, error: new Error(`op "${r.op}" without an "after" row (table ${t.table})`) });
      continue;
    }
    let oldShape = false;
    if (shapes && t.writeKey && after) {
      const columns = shapeOf(after);
      const version = versionString(r.position);
      const known = shapes.get(t.table);
      if (!known) {
        shapes.set(t.table, { columns, version });
        ops.push({ kind: 'shape', table: t.table });
      } else if (known.columns !== columns || known.invalidatedBy === version) {
        // the newer of the two shapes is the current one; keys older than its transaction may have the other
        const newer = known.columns !== columns && version > known.version;
        const newest = newer ? { columns, version } : known;
        oldShape = known.columns !== columns && !newer;
        const mark = versionString({ commitLsn: BigInt(newest.version.split(':')[0]!), seq: 0 });
        // a re-planned batch (a retried write replaces its queued plan) emits its invalidation again
        if (known.invalidated !== mark || known.invalidatedBy === version) {
          ops.push(truncateOp(t, mark, channel));
          shapes.set(t.table, { columns: newest.columns, version: newest.version, invalidated: mark, invalidatedBy: version });
          ops.push({ kind: 'shape', table: t.table });
        } else if (newer) {
          shapes.set(t.table, { ...known, columns, version });
        }
      }
    }
    const keys = new Set<string>();
    let writeTarget: string | null = null;
    if (t.writeKey) {
      const version = versionString(r.position);
      const oldKey = renderKey(t.writeKey, before);
      const newKey = after ? renderKey(t.writeKey, { ...(r.key ?? {}), ...after }) : null;
      if (after && newKey === null) {
        rejected.push({ record: r, error: new Error(`table ${t.table}: write.key template "${t.writeKey.source}" cannot be computed from the row (a column is NULL or missing)`) });
        continue;
      }
      if (oldKey !== null && oldKey !== newKey) ops.push({ kind: 'delete', table: t.table, key: oldKey, verKey: versionKey(versionNamespace, oldKey), version });
      if (after && newKey !== null && oldShape) {
        // a change in an older row shape (e.g. the same transaction as the ALTER, before it): not cached
        ops.push({ kind: 'unlink', key: newKey, table: t.table, channel });
        writeTarget = newKey;
      } else if (after && newKey !== null) {
        const toastColumns: string[] = [];
        const row: Row = {};
        for (const [c, v] of Object.entries(after)) {
          if (isUnchangedToast(v)) {
            row[c] = toastSentinel(toastColumns.length);
            toastColumns.push(c);
          } else row[c] = v;
        }
        ops.push({ kind: 'write', table: t.table, key: newKey, verKey: versionKey(versionNamespace, newKey), version, json: JSON.stringify(row), toastColumns, ttlMs: t.ttlMs });
        writeTarget = newKey;
      }
    }
    for (const tpl of t.templates) {
      for (const row of [before, after]) {
        const k = renderKey(tpl, row);
        if (k !== null && k !== writeTarget && (!t.writeKey || k !== renderKey(t.writeKey, before))) keys.add(k);
      }
    }
    for (const key of keys) ops.push({ kind: 'unlink', key, table: t.table, channel });
  }
  return { ops, rejected, ignored };
}
