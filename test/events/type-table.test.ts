/**
 * The type table in src/events/README.md cannot drift (issue 14): its rows are exactly the `readme`
 * names of the type matrix the property tests generate; its ClickHouse cells are what
 * `clickhouseType()` creates on an 18.16 and a 24.x server (plus the `__raw` companion exactly when
 * the sink adds one), and real ClickHouse takes each cell's type as a column type and prints it back
 * unchanged (the 18.16 cells on the stack's 18.16, the ≥ 20.1 cells on chdb 26.x — the targets of
 * test/support/clickhouse-targets.ts); its Elasticsearch cells are the field types a real Elasticsearch derives for
 * typical event values with the sink's default mappings; every Redis cell says "as event".
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { JsonValue } from '../../src/events/change.js';
import { featuresOf } from '../../src/sinks/clickhouse/server.js';
import { clickhouseType, needsRawCompanion } from '../../src/sinks/clickhouse/types.js';
import { DEFAULT_MAPPINGS } from '../../src/sinks/elasticsearch/sink.js';
import { clickhouseTargets, stopTargets } from '../support/clickhouse-targets.js';
import { MATRIX } from '../support/type-matrix.js';

const README = new URL('../../src/events/README.md', import.meta.url);

interface Row { pg: string; event: string; es: string; ch18: string; chModern: string; redis: string }

function table(): Row[] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('| Postgres | event (Kafka JSON) | Elasticsearch | ClickHouse 18.16 | ClickHouse ≥ 20.1 | Redis |');
  expect(start, 'type table header in src/events/README.md').toBeGreaterThan(0);
  const lines = text.slice(start).split('\n');
  const rows: Row[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    const [pg = '', event = '', es = '', ch18 = '', chModern = '', redis = ''] = cells;
    rows.push({ pg, event, es, ch18, chModern, redis });
  }
  return rows;
}

/** format_type() of a representative column per row (domain: its base, as the catalog reports it). */
const FORMAT_TYPE: Record<string, { pgType: string; isEnum?: boolean }> = {
  int2: { pgType: 'smallint' }, int4: { pgType: 'integer' }, int8: { pgType: 'bigint' }, numeric: { pgType: 'numeric' },
  'numeric(p,s)': { pgType: 'numeric(12,3)' }, domain: { pgType: 'numeric(12,2)' }, float4: { pgType: 'real' }, float8: { pgType: 'double precision' },
  bool: { pgType: 'boolean' }, text: { pgType: 'text' }, varchar: { pgType: 'character varying(20)' }, char: { pgType: 'character(5)' }, citext: { pgType: 'citext' },
  enum: { pgType: 'mood', isEnum: true }, uuid: { pgType: 'uuid' }, json: { pgType: 'json' }, jsonb: { pgType: 'jsonb' }, bytea: { pgType: 'bytea' },
  date: { pgType: 'date' }, timestamp: { pgType: 'timestamp without time zone' }, 'timestamp(p≤3)': { pgType: 'timestamp(3) without time zone' },
  timestamptz: { pgType: 'timestamp with time zone' }, time: { pgType: 'time without time zone' }, timetz: { pgType: 'time with time zone' },
  interval: { pgType: 'interval' }, money: { pgType: 'money' }, inet: { pgType: 'inet' }, cidr: { pgType: 'cidr' }, macaddr: { pgType: 'macaddr' },
  'bit(1)': { pgType: 'bit(1)' }, 'bit(n)': { pgType: 'bit(4)' }, varbit: { pgType: 'bit varying' }, array: { pgType: 'integer[]' }, range: { pgType: 'int4range' },
  hstore: { pgType: 'hstore' }, composite: { pgType: 'pair' }, geometric: { pgType: 'point' }, tsvector: { pgType: 'tsvector' }, xml: { pgType: 'xml' },
};

/** A typical event value per row (default event options), as the source emits it. */
const SAMPLE: Record<string, JsonValue> = {
  int2: 1, int4: 1, int8: 1, numeric: '1.5', 'numeric(p,s)': '1.500', domain: '1.50', float4: 1.5, float8: 1.5, bool: true, text: 't', varchar: 'v', char: 'c    ',
  citext: 'C', enum: 'happy', uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', json: '{"a": 1}', jsonb: '{"a": 1}', bytea: 'AA==', date: 19000, timestamp: 1700000000123456,
  'timestamp(p≤3)': 1700000000123, timestamptz: '2023-11-14T22:13:20.123456Z', time: 3600000000, timetz: '06:30:00Z', interval: 86400000000, money: '$1.00', inet: '::1',
  cidr: '10.0.0.0/8', macaddr: '08:00:2b:01:02:03', 'bit(1)': true, 'bit(n)': '0101', varbit: '01', array: [[1, 2], [3, null]], range: '[1,10)', hstore: '{"a":"1"}',
  composite: '(1,"x y")', geometric: '(1,2)', tsvector: "'a' 'cat'", xml: '<a/>',
};

const es = new Client({ node: endpoints().elasticsearchUrl });
const index = `cdc-type-table-${randomUUID().slice(0, 8)}`;
const targets = await clickhouseTargets();
afterAll(async () => {
  await es.indices.delete({ index }, { ignore: [404] });
  await es.close();
  await stopTargets(targets);
});

const chCell = (pg: string, modern: boolean): string => {
  const f = FORMAT_TYPE[pg];
  if (!f) throw new Error(`no format_type for ${pg}`);
  const t = clickhouseType({ name: 'c', pgType: f.pgType, nullable: true, isEnum: f.isEnum }, featuresOf(modern ? '24.8.4' : '18.16.1'), 'string');
  return `\`${t}\`${needsRawCompanion(t) ? ' + `__raw`' : ''}`;
};

describe('type table in src/events/README.md', () => {
  it('has exactly one row per type of the property-test matrix', () => {
    const rows = table().map((r) => r.pg);
    expect(new Set(rows).size, 'duplicate rows').toBe(rows.length);
    expect(new Set(rows)).toEqual(new Set(MATRIX.map((c) => c.readme)));
    expect(new Set(rows)).toEqual(new Set(Object.keys(FORMAT_TYPE)));
  });

  it('ClickHouse cells are the types the sink creates (18.16 and 24.x), with __raw exactly where it adds one', () => {
    for (const r of table()) {
      const want18 = chCell(r.pg, false);
      const wantModern = chCell(r.pg, true);
      expect(r.ch18 === want18 || r.ch18.startsWith(`${want18} `), `${r.pg}: ClickHouse 18.16 cell "${r.ch18}" should start with ${want18}`).toBe(true);
      expect(r.chModern === wantModern || r.chModern.startsWith(`${wantModern} `), `${r.pg}: ClickHouse ≥ 20.1 cell "${r.chModern}" should start with ${wantModern}`).toBe(true);
    }
  });

  for (const target of targets) {
    const modern = !target.version.startsWith('18.');
    it(`ClickHouse ${modern ? '≥ 20.1' : '18.16'} cells are column types ${target.name} accepts and prints back unchanged`, async () => {
      const ch = createClient({ url: target.url, log: { level: 127 } });
      const db = `cdc_type_table_${randomUUID().slice(0, 8)}_${target.tag}`;
      try {
        const want = Object.fromEntries(table().map((r) => [`c_${r.pg.replace(/\W/g, '_')}`, /^`([^`]+)`/.exec(modern ? r.chModern : r.ch18)?.[1] ?? `no type in cell of ${r.pg}`]));
        await ch.command({ query: `CREATE DATABASE ${db}` });
        await ch.command({ query: `CREATE TABLE ${db}.t (k UInt8, ${Object.entries(want).map(([c, t]) => `${c} ${t}`).join(', ')}) ENGINE = MergeTree ORDER BY k` });
        const rs = await ch.query({ query: `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 't' AND name != 'k'`, format: 'JSONEachRow' });
        const got = Object.fromEntries((await rs.json<{ name: string; type: string }>()).map((c) => [c.name, c.type]));
        expect(got).toEqual(want);
      } finally {
        await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => undefined);
        await ch.close();
      }
    });
  }

  it('Elasticsearch cells are the field types a real Elasticsearch derives with the default mappings', { timeout: 60_000 }, async () => {
    await es.indices.create({ index, mappings: DEFAULT_MAPPINGS as never });
    const doc = Object.fromEntries(Object.entries(SAMPLE).map(([k, v]) => [`f_${k.replace(/\W/g, '_')}`, v]));
    await es.index({ index, id: '1', document: doc, refresh: true });
    const mapping = await es.indices.getMapping({ index });
    const props = (mapping[index]?.mappings.properties ?? {}) as Record<string, { type?: string; fields?: Record<string, { type: string }> }>;
    for (const r of table()) {
      const p = props[`f_${r.pg.replace(/\W/g, '_')}`];
      const want = p?.fields?.keyword ? `\`${p.type}\` + \`keyword\`` : `\`${p?.type}\``;
      const cell = r.pg === 'array' ? r.es.replace(/^the element's \((`\w+`) for int\[\]\)$/, '$1') : r.es;
      expect(cell === want || cell.startsWith(`${want} `), `${r.pg}: Elasticsearch cell "${r.es}" should start with ${want}`).toBe(true);
    }
  });

  it('Redis stores the event row unchanged', () => {
    for (const r of table()) expect(r.redis, r.pg).toBe('as event');
  });
});
