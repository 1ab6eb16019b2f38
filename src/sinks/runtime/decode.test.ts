/** The records the source publishes decode on the sink side (src/sinks/runtime/decode.ts) as intended. */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './decode.js';
import { builtinType } from '../../events/builtin-types.js';
import { RecordBuilder, type EventRecord, type SourceInfo } from '../../events/record.js';
import type { RelationInfo } from '../../events/types.js';

const rel: RelationInfo = {
  oid: 1,
  schema: 'public',
  table: 'items',
  replicaIdentity: 'default',
  keyColumns: ['id'],
  columns: [
    { name: 'id', type: builtinType('int4'), typmod: -1, isKey: true },
    { name: 'tags', type: builtinType('_text'), typmod: -1, isKey: false },
  ],
};
const src: SourceInfo = { position: { commitLsn: 9_000_000_123n, seq: 4 }, xid: 5, commitTimeMs: 1, lsn: 9_000_000_100n, snapshot: 'false' };
const asMessage = (r: EventRecord, offset: number) => ({
  key: r.key === null ? null : Buffer.from(r.key),
  value: r.value === null ? null : Buffer.from(r.value),
  offset: String(offset),
  headers: r.headers,
});

describe('RecordBuilder output through the sink decoder', () => {
  for (const schemas of [false, true]) {
    it(`PK-changing update decodes to d, tombstone, c with the change's position (schemas.enable=${schemas})`, () => {
      const b = new RecordBuilder({ 'topic.prefix': 'p', 'schemas.enable': schemas }, { dbName: 'db' });
      const recs = b.build({ op: 'u', relation: rel, before: ['1', null], after: ['2', '{a,"b c"}'], source: src });
      const decoded = recs.map((r, i) => decodeMessage(r.topic, 0, asMessage(r, i)));
      const ok = decoded.map((d) => {
        if (!d.ok) throw d.rejected.error;
        return d.record;
      });
      expect(ok.map((r) => [r.op, r.key])).toEqual([
        ['d', { id: 1 }],
        [null, { id: 1 }],
        ['c', { id: 2 }],
      ]);
      for (const r of ok) expect(r.position).toEqual({ commitLsn: 9_000_000_123n, seq: 4 });
      expect(ok[2]?.after).toEqual({ id: 2, tags: ['a', 'b c'] });
    });
  }
});
