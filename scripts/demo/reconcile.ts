/**
 * Reconciliation: compares every Postgres row of the demo tables with its Elasticsearch document,
 * its current ClickHouse row (FINAL, _deleted = 0) and the Redis cache. A row is "stale" when a
 * sink holds it with a different value in any compared column (text as is, numerics compared as
 * exact decimals, the TOASTed description by md5).
 */
import { createHash } from 'node:crypto';
import { ClickHouseLogLevel, createClient as createClickHouse } from '@clickhouse/client';
import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import type pg from 'pg';

export interface TableSpec {
  readonly table: string;
  readonly key: readonly string[];
  /** Columns compared in every sink (a column missing in Postgres is skipped). */
  readonly columns: readonly string[];
  readonly decimals?: readonly string[];
  readonly hashed?: readonly string[];
}

export const SHOP_TABLES: readonly TableSpec[] = [
  { table: 'customers', key: ['id'], columns: ['id', 'email', 'full_name', 'loyalty_points'] },
  { table: 'products', key: ['sku'], columns: ['sku', 'name', 'price', 'description'], decimals: ['price'], hashed: ['description'] },
  { table: 'orders', key: ['id'], columns: ['id', 'customer_id', 'status', 'total'], decimals: ['total'] },
  { table: 'order_items', key: ['order_id', 'line_no'], columns: ['order_id', 'line_no', 'sku', 'quantity', 'unit_price'], decimals: ['unit_price'] },
];

export interface SinkCounts {
  rows: number;
  missing: number;
  extra: number;
  stale: number;
  /** Up to three examples of what differs, for the report. */
  examples: string[];
}

export interface TableReport {
  readonly table: string;
  readonly postgres: number;
  readonly elasticsearch: SinkCounts;
  readonly clickhouse: SinkCounts;
}

export interface CacheReport {
  /** Keys whose rows changed during the workload and were cached before it. */
  touched: number;
  /** Of those, still present in Redis (must be 0). */
  stillCached: number;
  /** Write-through product rows equal to Postgres / total products. */
  writeThroughEqual: number;
  writeThroughTotal: number;
  /** Keys of products no longer in Postgres that Redis still holds (must be 0). */
  writeThroughOrphans: number;
  examples: string[];
}

export interface Report {
  readonly tables: TableReport[];
  readonly cache: CacheReport;
  readonly ok: boolean;
}

type Normalized = Map<string, Record<string, string>>;

function normalizeValue(spec: TableSpec, column: string, value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (spec.hashed?.includes(column)) return createHash('md5').update(String(value)).digest('hex');
  if (spec.decimals?.includes(column)) return Number(value).toFixed(2);
  return String(value);
}

function normalizeRows(spec: TableSpec, columns: readonly string[], rows: Iterable<Record<string, unknown>>): Normalized {
  const out: Normalized = new Map();
  for (const row of rows) {
    const key = spec.key.map((k) => String(row[k])).join('|');
    const norm: Record<string, string> = {};
    for (const c of columns) norm[c] = normalizeValue(spec, c, row[c]);
    out.set(key, norm);
  }
  return out;
}

function compare(expected: Normalized, actual: Normalized, label: string): SinkCounts {
  const counts: SinkCounts = { rows: actual.size, missing: 0, extra: 0, stale: 0, examples: [] };
  for (const [key, row] of expected) {
    const got = actual.get(key);
    if (!got) {
      counts.missing++;
      if (counts.examples.length < 3) counts.examples.push(`${label} missing ${key}`);
      continue;
    }
    const diff = Object.keys(row).find((c) => row[c] !== got[c]);
    if (diff !== undefined) {
      counts.stale++;
      if (counts.examples.length < 3) counts.examples.push(`${label} ${key}.${diff}: postgres=${row[diff]} sink=${got[diff]}`);
    }
  }
  for (const key of actual.keys()) {
    if (!expected.has(key)) {
      counts.extra++;
      if (counts.examples.length < 3) counts.examples.push(`${label} extra ${key}`);
    }
  }
  return counts;
}

export interface ReconcileTargets {
  readonly db: pg.Client;
  readonly elasticsearchUrl: string;
  readonly clickhouseUrl: string;
  readonly clickhouseDatabase: string;
  readonly redisUrl: string;
  readonly topicPrefix: string;
  readonly touchedKeys: ReadonlySet<string>;
}

async function pgColumns(db: pg.Client, table: string): Promise<Set<string>> {
  const res = await db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1", [table]);
  return new Set(res.rows.map((r) => r.column_name));
}

async function esRows(es: Elasticsearch, index: string): Promise<Record<string, unknown>[]> {
  const exists = await es.indices.exists({ index });
  if (!exists) return [];
  await es.indices.refresh({ index });
  const out: Record<string, unknown>[] = [];
  let page = await es.search<Record<string, unknown>>({ index, scroll: '30s', size: 1000, query: { match_all: {} } });
  while (page.hits.hits.length > 0) {
    for (const h of page.hits.hits) if (h._source) out.push(h._source);
    if (!page._scroll_id) break;
    page = await es.scroll<Record<string, unknown>>({ scroll_id: page._scroll_id, scroll: '30s' });
  }
  if (page._scroll_id) await es.clearScroll({ scroll_id: page._scroll_id }).catch(() => undefined);
  return out;
}

export async function reconcile(t: ReconcileTargets): Promise<Report> {
  const es = new Elasticsearch({ node: t.elasticsearchUrl });
  const ch = createClickHouse({ url: t.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  const redis = new Redis(t.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    const tables: TableReport[] = [];
    for (const spec of SHOP_TABLES) {
      const present = await pgColumns(t.db, spec.table);
      const columns = spec.columns.filter((c) => present.has(c));
      const pgRes = await t.db.query<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM public.${spec.table}`);
      const expected = normalizeRows(spec, columns, pgRes.rows);
      const esActual = normalizeRows(spec, columns, await esRows(es, `${t.topicPrefix}.public.${spec.table}`));
      let chRows: Record<string, unknown>[] = [];
      try {
        const rs = await ch.query({ query: `SELECT * FROM ${t.clickhouseDatabase}.public_${spec.table} FINAL WHERE _deleted = 0`, format: 'JSONEachRow' });
        chRows = await rs.json<Record<string, unknown>>();
      } catch (err) {
        if (!/doesn't exist|UNKNOWN_TABLE|Unknown table/i.test(String(err))) throw err;
      }
      const chActual = normalizeRows(spec, columns, chRows);
      tables.push({ table: spec.table, postgres: expected.size, elasticsearch: compare(expected, esActual, 'es'), clickhouse: compare(expected, chActual, 'clickhouse') });
    }
    const cache = await reconcileCache(t, redis);
    const ok =
      tables.every((x) => [x.elasticsearch, x.clickhouse].every((s) => s.missing === 0 && s.extra === 0 && s.stale === 0)) &&
      cache.stillCached === 0 &&
      cache.writeThroughEqual === cache.writeThroughTotal &&
      cache.writeThroughOrphans === 0;
    return { tables, cache, ok };
  } finally {
    redis.disconnect();
    await ch.close();
    await es.close();
  }
}

async function reconcileCache(t: ReconcileTargets, redis: Redis): Promise<CacheReport> {
  const report: CacheReport = { touched: t.touchedKeys.size, stillCached: 0, writeThroughEqual: 0, writeThroughTotal: 0, writeThroughOrphans: 0, examples: [] };
  const touched = [...t.touchedKeys];
  for (let i = 0; i < touched.length; i += 500) {
    const chunk = touched.slice(i, i + 500);
    const values = await redis.mget(...chunk);
    values.forEach((v, j) => {
      if (v !== null) {
        report.stillCached++;
        if (report.examples.length < 3) report.examples.push(`still cached: ${chunk[j]}`);
      }
    });
  }
  const products = await t.db.query<{ sku: string; price: string; description: string }>('SELECT sku, price, description FROM public.products');
  const spec = SHOP_TABLES[1] as TableSpec;
  report.writeThroughTotal = products.rows.length;
  const live = new Set<string>();
  for (const p of products.rows) {
    live.add(`product:${p.sku}`);
    const cached = await redis.get(`product:${p.sku}`);
    const row = cached ? (JSON.parse(cached) as Record<string, unknown>) : null;
    const equal =
      row !== null &&
      normalizeValue(spec, 'price', row.price) === normalizeValue(spec, 'price', p.price) &&
      normalizeValue(spec, 'description', row.description) === normalizeValue(spec, 'description', p.description);
    if (equal) report.writeThroughEqual++;
    else if (report.examples.length < 3) report.examples.push(`write-through product:${p.sku} ${row ? 'differs' : 'missing'}`);
  }
  for (const key of await redis.keys('product:*')) {
    if (!live.has(key)) {
      report.writeThroughOrphans++;
      if (report.examples.length < 3) report.examples.push(`orphan ${key}`);
    }
  }
  return report;
}

export function formatReport(r: Report): string {
  const lines: string[] = [];
  const cell = (s: SinkCounts): string => (s.missing + s.extra + s.stale === 0 ? `${s.rows} ✓` : `${s.rows} ✗ (missing ${s.missing}, extra ${s.extra}, stale ${s.stale})`);
  lines.push('table          postgres   elasticsearch             clickhouse (FINAL)');
  for (const t of r.tables) lines.push(`${t.table.padEnd(14)} ${String(t.postgres).padStart(8)}   ${cell(t.elasticsearch).padEnd(25)} ${cell(t.clickhouse)}`);
  const c = r.cache;
  lines.push(`redis cache    invalidated ${c.touched - c.stillCached}/${c.touched} changed-row keys; write-through products ${c.writeThroughEqual}/${c.writeThroughTotal} current, ${c.writeThroughOrphans} orphans`);
  const examples = [...r.tables.flatMap((t) => [...t.elasticsearch.examples, ...t.clickhouse.examples]), ...c.examples];
  for (const e of examples.slice(0, 10)) lines.push(`  ! ${e}`);
  lines.push(r.ok ? 'RECONCILED: every sink equals Postgres.' : 'NOT RECONCILED: see the differences above.');
  return lines.join('\n');
}
