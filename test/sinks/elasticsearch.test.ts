/**
 * Elasticsearch sink against the real ES 8.19 of the stack: the shared conformance suite, then what
 * is specific to ES (external versions beyond 2^53, mapping conflicts → rejected, index creation
 * settings/mappings, PK moves with TOAST, truncate replays, field rules, server down → retriable).
 * Every index and checkpoint index of this file carries a unique run id and is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { plugin } from '../../src/sinks/elasticsearch/index.js';
import { SinkError, type Sink, type SinkRecord } from '../../src/sinks/sink.js';
import { pos, sinkBatch, sinkRecord, type ChangeSpec } from '../support/records.js';
import { CheckpointStore } from '../../src/sinks/elasticsearch/checkpoints.js';
import { CONFORMANCE, describeSinkConformance } from './conformance.js';

const run = randomUUID().slice(0, 8);
const url = endpoints().elasticsearchUrl;
const es = new Client({ node: url });
const checkpointIndex = `cdc-fanout-checkpoints-test-${run}`;
const indexPrefix = `estest-${run}`;

const ownConfig = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  url,
  'index.name.template': `${indexPrefix}.{prefix}.{schema}.{table}`,
  'checkpoint.index': checkpointIndex,
  refresh: 'wait_for',
  ...overrides,
});

function makeSink(overrides: Record<string, unknown> = {}, name = 'es'): Sink {
  return plugin.create(plugin.spec.parse(ownConfig(overrides)), { pipeline: `p-${run}`, sinkName: name, topicPrefix: CONFORMANCE.prefix, logger: silentLogger });
}

const indexOf = (table: string, prefix = CONFORMANCE.prefix): string => `${indexPrefix}.${prefix}.public.${table}`.toLowerCase();

async function docs(index: string): Promise<Map<string, Record<string, unknown>>> {
  await es.indices.refresh({ index, ignore_unavailable: true });
  const r = await es.search<Record<string, unknown>>({ index, size: 10_000, ignore_unavailable: true, query: { match_all: {} } });
  return new Map(r.hits.hits.map((h) => [h._id ?? '', h._source ?? {}]));
}

afterAll(async () => {
  await es.indices.delete({ index: `${indexPrefix}.*`, ignore_unavailable: true, allow_no_indices: true });
  await es.indices.delete({ index: checkpointIndex, ignore_unavailable: true });
  await es.close();
});

describeSinkConformance('elasticsearch', async () => {
  const index = indexOf(CONFORMANCE.table);
  const sink = makeSink();
  await sink.open();
  return {
    sink,
    newSink: () => makeSink(),
    child: { type: 'elasticsearch', config: ownConfig(), pipeline: `p-${run}`, sinkName: 'es' },
    async readState(table) {
      const out = new Map<string, Row | null>();
      for (const doc of (await docs(indexOf(table))).values()) out.set(JSON.stringify({ id: doc.id }), doc as Row);
      return out;
    },
    async reset() {
      // Deleting the index also drops its version tombstones, so tests do not see each other's versions.
      await es.indices.delete({ index, ignore_unavailable: true });
      // Re-create the checkpoint index right away: the open sink would otherwise re-create it on its
      // next write by dynamic mapping (truncate_lsn as text), which a later open() cannot fix.
      await es.indices.delete({ index: checkpointIndex, ignore_unavailable: true });
      await new CheckpointStore(es, checkpointIndex, 'reset', url).ensureIndex();
    },
  };
  // known limit (see ElasticsearchSink.truncate): a row inserted before the TRUNCATE in its own
  // transaction, whose partition was applied first, survives
}, { truncateSameTxBefore: false, detectsRegression: true });

describe('elasticsearch sink specifics', () => {
  let sink: Sink;
  let offset = 0;
  const write = async (s: Sink, records: SinkRecord[]) => s.write(sinkBatch(records, { firstOffset: (offset += 1000) }));
  const rec = (table: string, spec: Omit<ChangeSpec, 'table' | 'prefix'>): SinkRecord => sinkRecord({ ...spec, table, prefix: CONFORMANCE.prefix });

  beforeAll(async () => {
    sink = makeSink();
    await sink.open();
  });
  afterAll(async () => sink.close());

  it('creates indices with a long index.gc_deletes and lets new columns flow in by dynamic mapping', async () => {
    const t = 'dyn';
    await write(sink, [rec(t, { op: 'c', after: { id: 1, a: 'x' }, position: pos(10) })]);
    await write(sink, [rec(t, { op: 'u', after: { id: 1, a: 'y', added_later: 5 }, position: pos(20) })]);
    const settings = await es.indices.getSettings({ index: indexOf(t) });
    expect(settings[indexOf(t)]?.settings?.index?.gc_deletes).toBe('1d');
    const mapping = await es.indices.getMapping({ index: indexOf(t) });
    expect(Object.keys(mapping[indexOf(t)]?.mappings.properties ?? {}).sort()).toEqual(['a', 'added_later', 'id']);
    expect((await docs(indexOf(t))).get('1')).toEqual({ id: 1, a: 'y', added_later: 5 });
  });

  it('keeps exact versions above 2^53 (no float rounding): an older one is still stale', async () => {
    const t = 'bigver';
    const v = 1n << 60n; // v and v+1 are the same double
    const first = await write(sink, [rec(t, { op: 'c', after: { id: 1, s: 'newer' }, position: pos(v + 1n) })]);
    expect(first.rejected).toEqual([]);
    const late = await write(sink, [rec(t, { op: 'u', after: { id: 1, s: 'older' }, position: pos(v) })]);
    expect(late.staleSkipped).toBe(1);
    const got = await es.get({ index: indexOf(t), id: '1' });
    expect(got._source).toEqual({ id: 1, s: 'newer' });
    expect(BigInt(String(got._version))).toBeGreaterThan(1n << 59n);
  });

  it('rejects a poison document (mapping conflict) with the ES error and applies the rest of the batch', async () => {
    const t = 'poison';
    await write(sink, [rec(t, { op: 'c', after: { id: 1, n: 1 }, position: pos(10) })]);
    const r = await write(sink, [
      rec(t, { op: 'c', after: { id: 2, n: 2 }, position: pos(20, 0) }),
      rec(t, { op: 'c', after: { id: 3, n: { nested: true } }, position: pos(20, 1) }),
      rec(t, { op: 'c', after: { id: 4, n: 4 }, position: pos(20, 2) }),
      // collapse fallback: the last change of id 5 is poison, its earlier valid change must land
      rec(t, { op: 'c', after: { id: 5, n: 5 }, position: pos(30, 0) }),
      rec(t, { op: 'u', after: { id: 5, n: { nested: 5 } }, position: pos(31, 0) }),
      // default mappings: a value the numeric field cannot index is kept in _source, not rejected
      rec(t, { op: 'c', after: { id: 6, n: 'NaN' }, position: pos(32, 0) }),
    ]);
    expect(r.rejected.map((x) => x.record.after?.id)).toEqual([3, 5]);
    expect(r.rejected[0]?.error.message).toMatch(/parsing_exception|mapper_parsing/);
    expect(r.rejected[0]?.error.message).toContain(`${indexOf(t)}/3`);
    const d = await docs(indexOf(t));
    expect([...d.keys()].sort()).toEqual(['1', '2', '4', '5', '6']);
    expect(d.get('5')).toEqual({ id: 5, n: 5 });
    expect(d.get('6')).toEqual({ id: 6, n: 'NaN' });
  });

  it('replays a mixed batch twice to an identical index, with and without collapsing', async () => {
    for (const collapse of [true, false]) {
      const t = `replay_${collapse}`;
      const s = makeSink({ 'bulk.collapse': collapse });
      await s.open();
      const records = [
        rec(t, { op: 'c', after: { id: 1, v: 'a' }, position: pos(100, 0) }),
        rec(t, { op: 'c', after: { id: 2, v: 'b' }, position: pos(100, 1) }),
        rec(t, { op: 'u', before: { id: 1 }, after: { id: 3, v: 'moved' }, position: pos(200, 0) }),
        rec(t, { op: 'd', before: { id: 2 }, after: null, position: pos(300, 0) }),
        rec(t, { op: 'c', after: { id: 2, v: 'again' }, position: pos(400, 0) }),
        rec(t, { op: 'u', after: { id: 2, v: 'again2' }, position: pos(400, 1) }),
      ];
      const first = await write(s, records);
      const once = await docs(indexOf(t));
      const second = await write(s, records);
      expect(first.rejected).toEqual([]);
      expect(second.rejected).toEqual([]);
      // Collapsed, only the last op per document is sent and equal versions re-apply (external_gte);
      // uncollapsed, the 3 intermediate changes older than what is stored are refused as stale.
      expect(second.staleSkipped).toBe(collapse ? 0 : 3);
      expect(await docs(indexOf(t))).toEqual(once);
      expect(Object.fromEntries(once)).toEqual({ '2': { id: 2, v: 'again2' }, '3': { id: 3, v: 'moved' } });
      await s.close();
    }
  });

  it('fills unchanged-TOAST placeholders on a primary-key move and across batches', async () => {
    const t = 'toast';
    await write(sink, [rec(t, { op: 'c', after: { id: 1, name: 'a', big: 'long text', tags: ['x', 'y'] }, position: pos(10) })]);
    const r = await write(sink, [
      rec(t, { op: 'u', before: { id: 1 }, after: { id: 2, name: 'b', big: UNAVAILABLE_VALUE, tags: [UNAVAILABLE_VALUE] }, position: pos(20) }),
      rec(t, { op: 'u', after: { id: 2, name: 'c', big: UNAVAILABLE_VALUE, tags: ['z'] }, position: pos(30) }),
    ]);
    expect(r.rejected).toEqual([]);
    const d = await docs(indexOf(t));
    expect(Object.fromEntries(d)).toEqual({ '2': { id: 2, name: 'c', big: 'long text', tags: ['z'] } });
  });

  it('replays a truncate without deleting rows written after it', async () => {
    const t = 'trunc';
    const records = [
      rec(t, { op: 'c', after: { id: 1 }, position: pos(100) }),
      rec(t, { op: 'c', after: { id: 2 }, position: pos(100, 1) }),
      rec(t, { op: 't', before: null, after: null, key: null, position: pos(200) }),
      rec(t, { op: 'c', after: { id: 3 }, position: pos(300) }),
    ];
    for (let i = 0; i < 2; i++) {
      const r = await write(sink, records);
      expect(r.rejected).toEqual([]);
      expect([...(await docs(indexOf(t))).keys()]).toEqual(['3']);
    }
  });

  it('drops changes older than a truncate that arrive later from another partition, keeps the same transaction\'s later inserts', async () => {
    const t = 'trunc_parts';
    const on = (partition: number, records: SinkRecord[]) => sink.write(sinkBatch(records, { partition, firstOffset: (offset += 1000) }));
    await on(1, [rec(t, { op: 'c', after: { id: 1 }, position: pos(100) })]);
    // partition 0: the truncate (tx 200, seq 0); partition 2 is lagging behind it
    expect((await on(0, [rec(t, { op: 't', before: null, after: null, key: null, position: pos(200, 0) })])).rejected).toEqual([]);
    const late = await on(2, [
      rec(t, { op: 'c', after: { id: 5 }, position: pos(150) }), // committed before the truncate: gone
      rec(t, { op: 'c', after: { id: 6 }, position: pos(200, 3) }), // same transaction, after the TRUNCATE: kept
    ]);
    expect(late.staleSkipped).toBe(1);
    // reload pattern with the insert's partition applied first: TRUNCATE + INSERT in tx 300
    await on(1, [rec(t, { op: 'c', after: { id: 7 }, position: pos(300, 2) })]);
    await on(0, [rec(t, { op: 't', before: null, after: null, key: null, position: pos(300, 0) })]);
    expect([...(await docs(indexOf(t))).keys()].sort()).toEqual(['7']);
    // a fresh sink (another process) honours the stored mark too
    const other = makeSink();
    await other.open();
    const r = await other.write(sinkBatch([rec(t, { op: 'c', after: { id: 8 }, position: pos(250) })], { partition: 2, firstOffset: (offset += 1000) }));
    expect(r.staleSkipped).toBe(1);
    await other.close();
    expect([...(await docs(indexOf(t))).keys()].sort()).toEqual(['7']);
  });

  it('applies field rules, source metadata, mappings/settings files and composite ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-sink-'));
    const mappingsFile = join(dir, 'mappings.json');
    const settingsFile = join(dir, 'settings.json');
    writeFileSync(mappingsFile, JSON.stringify({ mappings: { properties: { code: { type: 'keyword' }, full_name: { type: 'text' } } } }));
    writeFileSync(settingsFile, JSON.stringify({ number_of_replicas: 0, refresh_interval: '2s' }));
    const t = 'rules';
    const s = makeSink({
      'table.overrides': { 'public.rules': { 'fields.exclude': ['secret'], 'fields.rename': { name: 'full_name' } } },
      'source.field': '_cdc',
      'index.mappings.file': mappingsFile,
      'index.settings.file': settingsFile,
    }, 'rules');
    await s.open();
    const r = await write(s, [
      sinkRecord({ table: t, prefix: CONFORMANCE.prefix, keyColumns: ['code', 'n'], op: 'c', after: { code: 'a|b', n: 1, name: 'N', secret: 's' }, position: pos(10) }),
    ]);
    expect(r.rejected).toEqual([]);
    const d = await docs(indexOf(t));
    const [id, doc] = [...d][0] ?? [];
    expect(id).toBe('a\\|b|1');
    expect(doc).toMatchObject({ code: 'a|b', n: 1, full_name: 'N', _cdc: { schema: 'public', table: 'rules' } });
    expect(doc).not.toHaveProperty('secret');
    const mapping = await es.indices.getMapping({ index: indexOf(t) });
    expect(mapping[indexOf(t)]?.mappings.properties?.code).toEqual({ type: 'keyword' });
    const settings = await es.indices.getSettings({ index: indexOf(t) });
    expect(settings[indexOf(t)]?.settings?.index?.refresh_interval).toBe('2s');
    expect(settings[indexOf(t)]?.settings?.index?.gc_deletes).toBe('1d');
    await s.close();
  });

  it('rejects records whose table cannot be an index name, applies the others', async () => {
    const r = await write(sink, [
      rec('ok_table', { op: 'c', after: { id: 1 }, position: pos(10) }),
      rec('bad table', { op: 'c', after: { id: 1 }, position: pos(10, 1) }),
    ]);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]?.error.message).toMatch(/cannot name the index of table public.bad table/);
    expect((await docs(indexOf('ok_table'))).size).toBe(1);
  });

  it('splits a batch over bulk.max.bytes into several requests, all applied', async () => {
    const t = 'split';
    const s = makeSink({ 'bulk.max.bytes': 2048 });
    const records = Array.from({ length: 60 }, (_, i) => rec(t, { op: 'c', after: { id: i, pad: 'x'.repeat(100) }, position: pos(10, i) }));
    const r = await write(s, records);
    expect(r.rejected).toEqual([]);
    expect((await docs(indexOf(t))).size).toBe(60);
    await s.close();
  });

  it('throws a retriable SinkError when the server is down', async () => {
    const down = plugin.create(plugin.spec.parse({ url: 'http://127.0.0.1:9299', 'request.timeout.ms': 2000 }), {
      pipeline: 'p',
      sinkName: 'down',
      topicPrefix: 'x',
      logger: silentLogger,
    });
    for (const attempt of [() => down.open(), () => down.write(sinkBatch([rec('down', { op: 'c', after: { id: 1 }, position: pos(1) })])), () => down.commit([{ topic: 't', partition: 0, offset: '1' }])]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SinkError);
      expect((error as SinkError).retriable).toBe(true);
      expect((error as SinkError).message).toContain('127.0.0.1:9299');
    }
    await down.close();
  });
});
