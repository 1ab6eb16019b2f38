import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_VALUE, type Position, type Row } from '../../events/change.js';
import type { SinkRecord } from '../sink.js';
import { planKeys, planRows, rowLines, type RowsContext, type StoredRow } from './plan.js';
import type { ColumnInfo, UpsertTable } from './tables.js';

const column = (name: string, type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({ name, type, kind: 'other', source: name, mode: 'strict', typedType: '', was: [], ...extra });
const columns = [column('id', 'Int64'), column('a', 'Nullable(String)'), column('body', 'String', { was: ['text'] })];
const u: UpsertTable = { ref: '`db`.`t`', name: 't', keyColumns: ['id'], columns, byName: new Map(columns.map((c) => [c.name, c])), aliases: new Map() };

let offset = 0;
function rec(op: SinkRecord['op'], lsn: number, after: Row | null, before: Row | null = null, seq = 0): SinkRecord {
  const row = after ?? before;
  return {
    topic: 'x.public.t',
    partition: 0,
    offset: String(offset++),
    key: row ? { id: row.id ?? null } : null,
    op,
    before,
    after,
    source: { schema: 'public', table: 't' },
    position: { commitLsn: BigInt(lsn), seq },
    raw: { key: null, value: null },
  };
}

const key = (id: number): string => JSON.stringify([String(id)]);
const ctx = (over: Partial<RowsContext> = {}): RowsContext => ({ staleCheck: true, knownVersion: () => undefined, belowWatermark: () => false, storedRows: new Map(), ...over });
const plan = (records: SinkRecord[], over: Partial<RowsContext> = {}): ReturnType<typeof planRows> => planRows(u, planKeys(u, records, () => undefined).records, ctx(over));
const summary = (p: ReturnType<typeof planRows>): string[] => p.rows.map((r) => `${r.key}@${r.version}${r.deleted ? ' deleted' : ''} ${[...r.fields.values()].join('|')}`);

describe('clickhouse plan: keys', () => {
  it('looks up stored versions only of updated/deleted keys neither seen in the batch nor cached, and refuses records without a key', () => {
    const keys = planKeys(
      u,
      [rec('c', 1, { id: 1, a: 'x', body: 'b' }), rec('u', 2, { id: 2, a: 'y', body: 'b' }), rec('u', 3, { id: 1, a: 'z', body: 'b' }), rec('d', 4, null, { id: 3 }), rec('u', 5, { id: 4, body: 'b' }), rec('u', 6, { a: 'no key' })],
      (k) => (k === key(4) ? 9n : undefined),
    );
    expect([...keys.versionKeys.keys()]).toEqual([key(2), key(3)]);
    expect(keys.rejected.map((r) => r.error.message)).toEqual(['record has no value for key column(s) id in "after"']);
    expect(keys.records).toHaveLength(5);
  });

  it('reads the stored row for an unchanged-TOAST placeholder of a key not written earlier in the batch — the old key on a key change', () => {
    const keys = planKeys(u, [rec('u', 2, { id: 5, a: 'x', body: UNAVAILABLE_VALUE }, { id: 6 }), rec('c', 3, { id: 7, body: 'b' }), rec('u', 4, { id: 7, body: UNAVAILABLE_VALUE })], () => undefined);
    expect([...keys.toastKeys.keys()]).toEqual([key(6)]);
    expect(keys.records[0]).toMatchObject({ oldKey: key(6), newKey: key(5) });
  });
});

describe('clickhouse plan: rows', () => {
  it('keeps one row per key — its last change — in the order of each key\'s first change; a key change is a delete + a row', () => {
    const p = plan([rec('c', 1, { id: 1, a: 'x', body: 'b' }), rec('c', 1, { id: 2, a: null, body: 'c' }, null, 1), rec('u', 2, { id: 1, a: 'y', body: 'b' }), rec('u', 3, { id: 3, a: 'z', body: 'c' }, { id: 2 })]);
    expect(summary(p)).toEqual([`${key(1)}@2 1|y|b`, `${key(2)}@3 deleted 2`, `${key(3)}@3 3|z|c`]);
    expect(p.staleSkipped).toBe(0);
  });

  it('orders rows by their key\'s first change, not its last (the order the sink always used: a batch retried across an upgrade keeps its chunks and dedup tokens)', () => {
    const p = plan([rec('c', 1, { id: 1, a: 'x', body: 'b' }), rec('c', 2, { id: 2, a: 'y', body: 'b' }), rec('u', 3, { id: 1, a: 'z', body: 'b' })]);
    expect(summary(p)).toEqual([`${key(1)}@3 1|z|b`, `${key(2)}@2 2|y|b`]);
  });

  it('keeps a transaction\'s change order among equal versions', () => {
    const p = plan([rec('u', 5, { id: 1, a: 'first', body: 'b' }, null, 0), rec('u', 5, { id: 1, a: 'second', body: 'b' }, null, 1), rec('d', 5, null, { id: 1 }, 2)]);
    expect(summary(p)).toEqual([`${key(1)}@5 deleted 1`]);
  });

  it('skips changes older than a known version, in the batch or stored, and below the truncate watermark', () => {
    const watermark: Position = { commitLsn: 4n, seq: 1 };
    const p = plan(
      [rec('u', 9, { id: 1, a: 'new', body: 'b' }), rec('r', 7, { id: 1, a: 'snapshot', body: 'b' }), rec('u', 5, { id: 2, a: 'old', body: 'b' }), rec('c', 4, { id: 3, a: 'truncated', body: 'b' }), rec('c', 4, { id: 4, a: 'after', body: 'b' }, null, 1)],
      { knownVersion: (k) => (k === key(2) ? 6n : undefined), belowWatermark: (at) => at.commitLsn < watermark.commitLsn || (at.commitLsn === watermark.commitLsn && at.seq < watermark.seq) },
    );
    expect(summary(p)).toEqual([`${key(1)}@9 1|new|b`, `${key(4)}@4 4|after|b`]);
    expect(p.staleSkipped).toBe(3);
  });

  it('without stale.check still writes the highest version of a key (what ReplacingMergeTree keeps)', () => {
    const p = plan([rec('u', 9, { id: 1, a: 'new', body: 'b' }), rec('r', 7, { id: 1, a: 'snapshot', body: 'b' })], { staleCheck: false, knownVersion: () => 100n });
    expect(summary(p)).toEqual([`${key(1)}@9 1|new|b`]);
    expect(p.staleSkipped).toBe(0);
  });

  it('fills unchanged-TOAST placeholders from the batch, else the stored row (old key on a key change), and refuses a record with no previous value', () => {
    const stored = new Map<string, StoredRow>([[key(6), { version: 1n, deleted: false, fields: new Map([['id', '6'], ['a', 'sa'], ['body', 'stored body']]) }]]);
    const p = plan(
      [
        rec('c', 2, { id: 1, a: 'x', body: 'batch body' }),
        rec('u', 3, { id: 1, a: 'y', body: UNAVAILABLE_VALUE }),
        rec('u', 3, { id: 5, a: 'z', body: UNAVAILABLE_VALUE }, { id: 6 }, 1),
        rec('u', 4, { id: 8, a: 'w', body: UNAVAILABLE_VALUE }),
      ],
      { storedRows: stored },
    );
    expect(summary(p)).toEqual([`${key(1)}@3 1|y|batch body`, `${key(6)}@3 deleted 6`, `${key(5)}@3 5|z|stored body`]);
    expect(p.rejected.map((r) => r.error.message)).toEqual([`column body is an unchanged TOAST value (${UNAVAILABLE_VALUE}) and no previous state of this row is stored; set REPLICA IDENTITY FULL on the source table or re-snapshot it`]);
  });

  it('writes a renamed column from its earlier name, and encodes rows as TSV lines with the meta columns', () => {
    const p = plan([rec('c', 2, { id: 1, a: 'tab\there', text: 'old name' }, null, 3)]);
    const lines = rowLines(u, p.rows, '2026-01-01 00:00:00');
    expect(lines.map((l) => l.line)).toEqual(['1\ttab\\there\told name\t0\t2\t3\tc\t2\t2026-01-01 00:00:00']);
  });
});
