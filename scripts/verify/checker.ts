/**
 * The independent checker of the verify run. It shares no code with src/sinks: Elasticsearch is read
 * with plain HTTP fetch (scroll), ClickHouse through its HTTP interface with FINAL, Redis with the raw
 * RESP client in resp.ts; every row is compared with Postgres after normalising values to text
 * (decimals canonical, booleans as true/false, the TOASTed body by md5 and length).
 *
 * Per sink and table: missing (row in Postgres, not in the sink), extra (in the sink, not in
 * Postgres: a lost delete), stale (present with an older value), duplicated (one key held twice).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RawRedis } from './resp.js';
import { TABLES, type TableName } from './load.js';

export interface SinkTableCheck {
  rows: number;
  missing: number;
  extra: number;
  stale: number;
  duplicated: number;
  examples: string[];
}

export interface CheckTargets {
  readonly db: pg.Client;
  readonly elasticsearchUrl: string;
  readonly clickhouseUrl: string;
  readonly clickhouseDatabase: string;
  readonly topicPrefix: string;
  readonly redis: RawRedis;
  readonly redisPrefix: string;
  /** Keys whose rows changed after the invalidation caches were filled (must be gone from Redis). */
  readonly touched: Readonly<Record<TableName, ReadonlySet<string>>>;
}

export interface CheckResult {
  readonly postgres: Record<TableName, number>;
  readonly elasticsearch: Record<TableName, SinkTableCheck>;
  readonly clickhouse: Record<TableName, SinkTableCheck>;
  /** items written through to Redis as JSON. */
  readonly redisWriteThrough: SinkTableCheck;
  /** accounts and docs cache keys: changed rows whose key is still cached are stale. */
  readonly redisInvalidation: { readonly checked: number; readonly stillCached: number; readonly examples: string[] };
  readonly lost: number;
  readonly duplicated: number;
  readonly stale: number;
  readonly ok: boolean;
}

const KEY: Record<TableName, string> = { accounts: 'id', docs: 'id', items: 'sku' };
const COLUMNS: Record<TableName, readonly string[]> = {
  accounts: ['id', 'name', 'balance', 'active', 'visits'],
  docs: ['id', 'title', 'body'],
  items: ['sku', 'name', 'qty', 'price'],
};
const DECIMALS = new Set(['balance', 'price']);
const BOOLEANS = new Set(['active']);

/** Canonical text of an exact decimal ("12.30", 12.3 and "12.300" all give "12.3"). */
function decimalText(v: unknown): string {
  let s = String(v).trim();
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (s === '-0') s = '0';
  return s;
}

function normalize(column: string, v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (DECIMALS.has(column)) return decimalText(v);
  if (BOOLEANS.has(column)) return v === true || v === 1 || v === '1' || v === 'true' ? 'true' : 'false';
  if (column === 'body') {
    const s = String(v);
    return `md5:${createHash('md5').update(s).digest('hex')}/${s.length}`;
  }
  return String(v);
}

function normalizeRow(t: TableName, row: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of COLUMNS[t]) out[c] = normalize(c, row[c]);
  return out;
}

function compare(t: TableName, label: string, expected: Map<string, Record<string, string>>, actualRows: readonly Record<string, unknown>[]): SinkTableCheck {
  const res: SinkTableCheck = { rows: actualRows.length, missing: 0, extra: 0, stale: 0, duplicated: 0, examples: [] };
  const note = (s: string): void => {
    if (res.examples.length < 5) res.examples.push(`${label} ${t} ${s}`);
  };
  const actual = new Map<string, Record<string, string>>();
  for (const row of actualRows) {
    const n = normalizeRow(t, row);
    const k = n[KEY[t]] as string;
    if (actual.has(k)) {
      res.duplicated++;
      note(`key ${k} held twice`);
    }
    actual.set(k, n);
  }
  for (const [k, want] of expected) {
    const got = actual.get(k);
    if (!got) {
      res.missing++;
      note(`missing key ${k}`);
      continue;
    }
    const diff = COLUMNS[t].find((c) => want[c] !== got[c]);
    if (diff !== undefined) {
      res.stale++;
      note(`key ${k} stale: ${diff} postgres=${want[diff]} sink=${got[diff]}`);
    }
  }
  for (const k of actual.keys()) {
    if (!expected.has(k)) {
      res.extra++;
      note(`extra key ${k} (deleted in postgres)`);
    }
  }
  return res;
}

async function http(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${body.slice(0, 300)}`);
  return body;
}

async function esRows(base: string, index: string): Promise<Record<string, unknown>[]> {
  const head = await fetch(`${base}/${encodeURIComponent(index)}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
  if (head.status === 404) return [];
  await http(`${base}/${encodeURIComponent(index)}/_refresh`, { method: 'POST' });
  const json = { 'content-type': 'application/json' };
  type Page = { _scroll_id?: string; hits: { hits: { _source?: Record<string, unknown> }[] } };
  let page = JSON.parse(await http(`${base}/${encodeURIComponent(index)}/_search?scroll=1m`, { method: 'POST', headers: json, body: JSON.stringify({ size: 1000, sort: ['_doc'], query: { match_all: {} } }) })) as Page;
  const out: Record<string, unknown>[] = [];
  while (page.hits.hits.length > 0) {
    for (const h of page.hits.hits) if (h._source) out.push(h._source);
    if (!page._scroll_id) break;
    page = JSON.parse(await http(`${base}/_search/scroll`, { method: 'POST', headers: json, body: JSON.stringify({ scroll: '1m', scroll_id: page._scroll_id }) })) as Page;
  }
  if (page._scroll_id) await fetch(`${base}/_search/scroll`, { method: 'DELETE', headers: json, body: JSON.stringify({ scroll_id: page._scroll_id }) }).catch(() => undefined);
  return out;
}

async function chRows(base: string, database: string, table: string): Promise<Record<string, unknown>[]> {
  const exists = (await http(`${base}/`, { method: 'POST', body: `EXISTS TABLE \`${database}\`.\`${table}\`` })).trim();
  if (exists !== '1') return [];
  const body = await http(`${base}/`, { method: 'POST', body: `SELECT * FROM \`${database}\`.\`${table}\` FINAL WHERE _deleted = 0 FORMAT JSONEachRow` });
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function check(t: CheckTargets): Promise<CheckResult> {
  const postgres = {} as Record<TableName, number>;
  const elasticsearch = {} as Record<TableName, SinkTableCheck>;
  const clickhouse = {} as Record<TableName, SinkTableCheck>;
  const pgRows = {} as Record<TableName, Map<string, Record<string, string>>>;
  for (const table of TABLES) {
    const res = await t.db.query<Record<string, unknown>>(`SELECT ${COLUMNS[table].join(', ')} FROM ${table}`);
    const rows = new Map<string, Record<string, string>>();
    for (const row of res.rows) {
      const n = normalizeRow(table, row);
      rows.set(n[KEY[table]] as string, n);
    }
    pgRows[table] = rows;
    postgres[table] = rows.size;
    elasticsearch[table] = compare(table, 'elasticsearch', rows, await esRows(t.elasticsearchUrl, `${t.topicPrefix}.public.${table}`.toLowerCase()));
    clickhouse[table] = compare(table, 'clickhouse', rows, await chRows(t.clickhouseUrl, t.clickhouseDatabase, `public_${table}`));
  }

  // Write-through: every items row as JSON at <prefix>item:<sku>, nothing else under that prefix.
  const itemKeys = await t.redis.scan(`${t.redisPrefix}item:*`);
  const itemRows: Record<string, unknown>[] = [];
  for (let i = 0; i < itemKeys.length; i += 500) {
    const chunk = itemKeys.slice(i, i + 500);
    const values = (await t.redis.call('MGET', ...chunk)) as (string | null)[];
    for (const v of values) if (v !== null) itemRows.push(JSON.parse(v) as Record<string, unknown>);
  }
  const redisWriteThrough = compare('items', 'redis', pgRows.items, itemRows);

  // Invalidation: a cached key of a row changed after the fill must be gone.
  const inval = { checked: 0, stillCached: 0, examples: [] as string[] };
  for (const [table, name] of [['accounts', 'acct'], ['docs', 'doc']] as const) {
    const keys = [...t.touched[table]].map((k) => `${t.redisPrefix}${name}:${k}`);
    inval.checked += keys.length;
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = (await t.redis.call('MGET', ...chunk)) as (string | null)[];
      values.forEach((v, j) => {
        if (v === null) return;
        inval.stillCached++;
        if (inval.examples.length < 5) inval.examples.push(`redis ${chunk[j]} still cached after its row changed`);
      });
    }
  }

  const sinks = [...Object.values(elasticsearch), ...Object.values(clickhouse), redisWriteThrough];
  const lost = sinks.reduce((a, s) => a + s.missing + s.extra, 0);
  const duplicated = sinks.reduce((a, s) => a + s.duplicated, 0);
  const stale = sinks.reduce((a, s) => a + s.stale, 0) + inval.stillCached;
  return { postgres, elasticsearch, clickhouse, redisWriteThrough, redisInvalidation: inval, lost, duplicated, stale, ok: lost + duplicated + stale === 0 };
}

/** Fill the application cache the way an app would: one key per accounts/docs row. */
export async function fillCache(db: pg.Client, redis: RawRedis, prefix: string): Promise<number> {
  let n = 0;
  for (const [table, name] of [['accounts', 'acct'], ['docs', 'doc']] as const) {
    const res = await db.query<{ id: string }>(`SELECT id::text AS id FROM ${table}`);
    for (let i = 0; i < res.rows.length; i += 500) {
      const args = res.rows.slice(i, i + 500).flatMap((r) => [`${prefix}${name}:${r.id}`, 'cached']);
      if (args.length > 0) await redis.call('MSET', ...args);
      n += args.length / 2;
    }
  }
  return n;
}

export function checkExamples(r: CheckResult): string[] {
  return [
    ...TABLES.flatMap((t) => [...r.elasticsearch[t].examples, ...r.clickhouse[t].examples]),
    ...r.redisWriteThrough.examples,
    ...r.redisInvalidation.examples,
  ];
}
