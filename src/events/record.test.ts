import { describe, expect, it } from 'vitest';
import { HEADERS, UNAVAILABLE_VALUE } from './change.js';
import { builtinType } from './builtin-types.js';
import { RecordBuilder, PK_UPDATE_HEADERS, type SourceInfo } from './record.js';
import { UNCHANGED_TOAST, type RelationInfo } from './types.js';

const rel: RelationInfo = {
  oid: 16384,
  schema: 'public',
  table: 'orders',
  replicaIdentity: 'default',
  keyColumns: ['id'],
  columns: [
    { name: 'id', type: builtinType('int8'), typmod: -1, isKey: true, nullable: false },
    { name: 'note', type: builtinType('text'), typmod: -1, isKey: false },
    { name: 'at', type: builtinType('timestamptz'), typmod: -1, isKey: false },
  ],
};
const noPk: RelationInfo = { ...rel, oid: 16385, table: 'log', keyColumns: [], replicaIdentity: 'full', columns: rel.columns.map((c) => ({ ...c, isKey: true })) };

const src: SourceInfo = { position: { commitLsn: 0x1_0000_0100n, seq: 3 }, xid: 742, commitTimeMs: 1_700_000_000_000, lsn: 0x1_0000_00f0n, snapshot: 'false', lastCommitLsn: 0x1_0000_0000n };
const builder = (cfg: Record<string, unknown> = {}): RecordBuilder => new RecordBuilder({ 'topic.prefix': 'shop', ...cfg }, { dbName: 'app', version: '9.9.9', now: () => 1234 });
const parse = (s: string | null): Record<string, unknown> => JSON.parse(s as string) as Record<string, unknown>;

describe('RecordBuilder envelope', () => {
  it('builds a create exactly per the contract', () => {
    const [r, ...rest] = builder().build({ op: 'c', relation: rel, before: null, after: ['7', 'hi', '2024-01-02 03:04:05.5+00'], source: src });
    expect(rest).toEqual([]);
    expect(r?.topic).toBe('shop.public.orders');
    expect(r?.key).toBe('{"id":7}');
    expect(r?.headers).toEqual({ [HEADERS.commitLsn]: String(0x1_0000_0100n), [HEADERS.seq]: '3' });
    // byte for byte: field names and order as Debezium 3.6 writes them (test/events/debezium-differential.test.ts)
    expect(r?.value).toBe(
      '{"before":null,"after":{"id":7,"note":"hi","at":"2024-01-02T03:04:05.500000Z"},' +
        '"source":{"version":"9.9.9","connector":"postgresql","name":"shop","ts_ms":1700000000000,"snapshot":"false","db":"app",' +
        `"sequence":"[\\"${0x1_0000_0000n}\\",\\"${0x1_0000_00f0n}\\"]","ts_us":1700000000000000,"ts_ns":1700000000000000000,` +
        `"schema":"public","table":"orders","txId":742,"lsn":${0x1_0000_00f0},"xmin":null,"origin":null,"origin_lsn":null},` +
        '"transaction":null,"op":"c","ts_ms":1234,"ts_us":1234000,"ts_ns":1234000000}',
    );
  });

  it('source.ts_us / ts_ns carry the commit µs when the source knows them', () => {
    const [r] = builder().build({ op: 'c', relation: rel, before: null, after: ['7', 'hi', null], source: { ...src, commitTimeUs: 1_700_000_000_000_123 } });
    expect(r?.value).toContain('"ts_us":1700000000000123,"ts_ns":1700000000000123000,');
  });

  it('snapshot rows: op r, snapshot marker, null txId, null first sequence element', () => {
    const [r] = builder().build({ op: 'r', relation: rel, before: null, after: ['1', null, null], source: { ...src, xid: null, snapshot: 'last', lastCommitLsn: null } });
    const v = parse(r?.value ?? null);
    expect(v.op).toBe('r');
    expect(v.source).toMatchObject({ snapshot: 'last', txId: null, sequence: `[null,"${0x1_0000_00f0n}"]` });
  });

  it('update keeps before when the old tuple is sent (REPLICA IDENTITY FULL) and marks unchanged TOAST', () => {
    const [r, ...rest] = builder().build({ op: 'u', relation: rel, before: ['7', 'old', null], after: ['7', UNCHANGED_TOAST, null], source: src });
    expect(rest).toEqual([]);
    const v = parse(r?.value ?? null);
    expect(v.before).toEqual({ id: 7, note: 'old', at: null });
    expect(v.after).toEqual({ id: 7, note: UNAVAILABLE_VALUE, at: null });
    expect(v.op).toBe('u');
  });

  it('delete: event then tombstone with the same key; none with tombstones.on.delete=false', () => {
    const recs = builder().build({ op: 'd', relation: rel, before: ['7', null, null], source: src });
    expect(recs.map((r) => [r.key, r.value === null])).toEqual([['{"id":7}', false], ['{"id":7}', true]]);
    expect(parse(recs[0]?.value ?? null)).toMatchObject({ op: 'd', after: null, before: { id: 7, note: null, at: null } });
    expect(builder({ 'tombstones.on.delete': false }).build({ op: 'd', relation: rel, before: ['7', null, null], source: src })).toHaveLength(1);
  });

  it('update that changes the key: delete at old key, tombstone, create at new key (Debezium headers)', () => {
    const recs = builder().build({ op: 'u', relation: rel, before: ['7', null, null], after: ['8', 'x', null], source: src });
    expect(recs.map((r) => [r.key, r.value === null ? null : parse(r.value).op])).toEqual([
      ['{"id":7}', 'd'],
      ['{"id":7}', null],
      ['{"id":8}', 'c'],
    ]);
    expect(recs[0]?.headers[PK_UPDATE_HEADERS.newKey]).toBe('{"id":8}');
    expect(recs[1]?.headers[PK_UPDATE_HEADERS.newKey]).toBe('{"id":8}'); // the tombstone too, like Debezium
    expect(recs[2]?.headers[PK_UPDATE_HEADERS.oldKey]).toBe('{"id":7}');
    expect(parse(recs[2]?.value ?? null)).toMatchObject({ before: null, after: { id: 8, note: 'x' } });
    for (const r of recs) expect(r.headers[HEADERS.seq]).toBe('3');
    // schemas.enable: keys are wrapped, the header values stay bare (Connect's SimpleHeaderConverter)
    const wrapped = builder({ 'schemas.enable': true }).build({ op: 'u', relation: rel, before: ['7', null, null], after: ['8', 'x', null], source: src });
    expect(JSON.parse(wrapped[0]?.key ?? 'null')).toMatchObject({ payload: { id: 7 } });
    expect(wrapped[0]?.headers[PK_UPDATE_HEADERS.newKey]).toBe('{"id":8}');
    expect(wrapped[2]?.headers[PK_UPDATE_HEADERS.oldKey]).toBe('{"id":7}');
  });

  it('tables without key get a null key (no PK split); message.key.columns gives them one', () => {
    const [r] = builder().build({ op: 'u', relation: noPk, before: ['1', 'a', null], after: ['2', 'b', null], source: src });
    expect(r?.key).toBeNull();
    expect(parse(r?.value ?? null).op).toBe('u');
    const keyed = builder({ 'message.key.columns': 'public\\.log:note,id' }).build({ op: 'c', relation: noPk, before: null, after: ['2', 'b', null], source: src });
    expect(keyed[0]?.key).toBe('{"note":"b","id":2}');
    expect(() => builder({ 'message.key.columns': 'public.log:nope' }).build({ op: 'c', relation: noPk, before: null, after: ['2', 'b', null], source: src })).toThrow(
      /no column "nope"/,
    );
  });

  it('truncate key: null (Debezium) on a delete-policy topic, {} on a compacted one, by configuration', () => {
    const onDelete = builder({ 'topic.cleanup.policy.tables': { 'public.orders': 'delete' } });
    expect(onDelete.build({ op: 't', relation: rel, source: src })[0]?.key).toBeNull();
    expect(builder({ 'topic.cleanup.policy': 'delete' }).build({ op: 't', relation: rel, source: src })[0]?.key).toBeNull();
    expect(builder({ 'topic.cleanup.policy': 'compact,delete' }).build({ op: 't', relation: rel, source: src })[0]?.key).toBe('{}');
    // A keyless table's topic is created "delete", but the key follows the configured policy, so a topic
    // created compacted earlier (when the table had a key) still accepts the truncate.
    expect(builder().build({ op: 't', relation: noPk, source: src })[0]?.key).toBe('{}');
    const withSchema = builder({ 'schemas.enable': true }).build({ op: 't', relation: rel, source: src })[0]?.key;
    expect(parse(withSchema ?? null)).toEqual({ schema: { type: 'struct', fields: [], optional: false, name: 'shop.public.orders.Key' }, payload: {} });
  });

  it('data topic cleanup.policy: compact by default, per-table override, delete for keyless tables', () => {
    const b = builder({ 'topic.cleanup.policy.tables': { 'public.audit': 'compact,delete' } });
    expect(b.cleanupPolicyFor(rel)).toBe('compact');
    expect(b.cleanupPolicyFor({ schema: 'public', table: 'audit', keyColumns: ['id'] })).toBe('compact,delete');
    expect(b.cleanupPolicyFor(noPk)).toBe('delete');
    // message.key.columns gives a keyless table a key: compactable.
    expect(builder({ 'message.key.columns': 'public.log:id' }).cleanupPolicyFor(noPk)).toBe('compact');
    expect(builder({ 'topic.cleanup.policy': 'delete' }).cleanupPolicyFor(rel)).toBe('delete');
    // topicFor records the policy for topic creation when given the keys; not without them.
    expect(b.cleanupPolicyOfTopic('shop.public.orders')).toBeUndefined();
    b.topicFor({ schema: 'public', table: 'log' });
    expect(b.cleanupPolicyOfTopic('shop.public.log')).toBeUndefined();
    b.topicFor(rel);
    b.topicFor(noPk);
    expect(b.cleanupPolicyOfTopic('shop.public.orders')).toBe('compact');
    expect(b.cleanupPolicyOfTopic('shop.public.log')).toBe('delete');
  });

  it('truncate and logical messages', () => {
    const b = builder();
    const [t] = b.build({ op: 't', relation: rel, source: src });
    // Compacted data topics (the default) reject null keys: a truncate carries the empty key object.
    expect(t?.key).toBe('{}');
    expect(parse(t?.value ?? null)).toMatchObject({ op: 't', before: null, after: null });
    const [m] = b.build({ op: 'm', prefix: 'outbox', content: Buffer.from('hello'), transactional: true, source: src });
    expect(m?.topic).toBe('shop.message');
    expect(m?.key).toBe('{"prefix":"outbox"}');
    expect(parse(m?.value ?? null)).toMatchObject({ op: 'm', message: { prefix: 'outbox', content: Buffer.from('hello').toString('base64') }, source: { schema: '', table: '', txId: 742 } });
  });

  it('routing template and the key-less row-count check', () => {
    const b = builder({ 'topic.routing.template': 'cdc.{table}' });
    expect(b.topicFor(rel)).toBe('cdc.orders');
    expect(() => b.build({ op: 'c', relation: rel, before: null, after: ['1'], source: src })).toThrow(/has 1 values but the relation has 3 columns/);
    expect(() => b.build({ op: 'c', relation: rel, before: null, after: ['1', 'x', 'yesterday'], source: src })).toThrow(
      /cannot convert column public\.orders\.at \(type pg_catalog\.timestamptz\): cannot parse Postgres timestamp text "yesterday"/,
    );
  });
});

describe('transaction metadata', () => {
  it('numbers events and writes BEGIN/END with per-table counts', () => {
    const b = builder({ 'provide.transaction.metadata': true });
    const [begin] = b.beginTransaction({ xid: 742, commitLsn: 500n, commitTimeMs: 99 });
    expect(begin?.topic).toBe('shop.transaction');
    expect(parse(begin?.value ?? null)).toEqual({ status: 'BEGIN', id: '742:500', event_count: null, data_collections: null, ts_ms: 99 });
    // with the Begin message's LSN the id uses it, like Debezium
    expect(parse(builder({ 'provide.transaction.metadata': true }).beginTransaction({ xid: 742, commitLsn: 500n, beginLsn: 460n, commitTimeMs: 99 })[0]?.value ?? null)).toMatchObject({ id: '742:460' });
    const a = b.build({ op: 'c', relation: rel, before: null, after: ['1', null, null], source: src });
    const c = b.build({ op: 'd', relation: noPk, before: ['1', null, null], source: src });
    const d = b.build({ op: 'c', relation: rel, before: null, after: ['2', null, null], source: src });
    expect(parse(a[0]?.value ?? null).transaction).toEqual({ id: '742:500', total_order: 1, data_collection_order: 1 });
    expect(parse(c[0]?.value ?? null).transaction).toEqual({ id: '742:500', total_order: 2, data_collection_order: 1 });
    expect(parse(d[0]?.value ?? null).transaction).toEqual({ id: '742:500', total_order: 3, data_collection_order: 2 });
    const [end] = b.endTransaction(500n);
    expect(parse(end?.value ?? null)).toEqual({
      status: 'END',
      id: '742:500',
      event_count: 3,
      data_collections: [
        { data_collection: 'public.orders', event_count: 2 },
        { data_collection: 'public.log', event_count: 1 },
      ],
      ts_ms: 99,
    });
    expect(builder().beginTransaction({ xid: 1, commitLsn: 1n, commitTimeMs: 1 })).toEqual([]);
  });
});

describe('schemas.enable', () => {
  it('wraps key and value with Kafka Connect schemas carrying Debezium semantic names', () => {
    const [r] = builder({ 'schemas.enable': true }).build({ op: 'c', relation: rel, before: null, after: ['7', 'hi', null], source: src });
    const key = parse(r?.key ?? null) as { schema: { name: string; fields: { field: string; type: string; optional: boolean }[] }; payload: unknown };
    expect(key.payload).toEqual({ id: 7 });
    expect(key.schema.name).toBe('shop.public.orders.Key');
    expect(key.schema.fields).toEqual([{ type: 'int64', optional: false, field: 'id' }]);
    const value = parse(r?.value ?? null) as { schema: { name: string; fields: { field: string; fields?: { field: string; name?: string; optional: boolean }[] }[] }; payload: { op: string } };
    expect(value.payload.op).toBe('c');
    expect(value.schema.name).toBe('shop.public.orders.Envelope');
    expect(value.schema.fields.map((f) => f.field)).toEqual(['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns']);
    const after = value.schema.fields[1]?.fields ?? [];
    expect(after.find((f) => f.field === 'at')).toMatchObject({ name: 'io.debezium.time.ZonedTimestamp', optional: true });
    expect(after.find((f) => f.field === 'id')).toMatchObject({ optional: false });
  });
});
