import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_VALUE, type Row } from '../../events/change.js';
import type { SinkRecord } from '../sink.js';
import type { Doc } from './document.js';
import { collapse, opKey, planBatch, resolvePlaceholders, type IndexOp, type PlanContext } from './plan.js';

const ctx: PlanContext = {
  indexFor: (r) => `x.${r.source?.table ?? ''}`,
  idSeparator: '|',
  fieldRules: (table) => (table === 'public.users' ? { exclude: ['secret'], rename: { name: 'full_name' } } : {}),
  sourceField: undefined,
  truncateMode: 'delete',
};

let offset = 0;
function rec(op: SinkRecord['op'], lsn: number, after: Row | null, before: Row | null = null, table = 't'): SinkRecord {
  const row = after ?? before;
  return {
    topic: 'x.public.t',
    partition: 0,
    offset: String(offset++),
    key: op === 't' || !row ? null : { id: row.id ?? null },
    op,
    before,
    after,
    source: { schema: 'public', table },
    position: { commitLsn: BigInt(lsn), seq: 0 },
    raw: { key: null, value: null },
  };
}

describe('planBatch', () => {
  it('maps ops and moves a row on a key change', () => {
    const plan = planBatch(
      [rec('c', 1, { id: 1, a: 'x' }), rec('u', 2, { id: 2, a: 'y' }, { id: 1 }), rec('d', 3, null, { id: 2 }), rec(null, 3, null, { id: 2 }), rec('m', 3, null)],
      ctx,
    );
    expect(plan.rejected).toEqual([]);
    expect(plan.steps).toHaveLength(1);
    const ops = plan.steps[0]?.kind === 'ops' ? plan.steps[0].ops : [];
    expect(ops.map((o) => `${o.kind}:${o.id}@${o.version}`)).toEqual(['index:1@1', 'delete:1@2', 'index:2@2', 'delete:2@3']);
    expect((ops[2] as IndexOp).fillFrom).toBe('1');
  });
  it('applies field rules per table', () => {
    const plan = planBatch([rec('c', 1, { id: 1, name: 'n', secret: 's' }, null, 'users')], ctx);
    const op = plan.steps[0]?.kind === 'ops' ? (plan.steps[0].ops[0] as IndexOp) : undefined;
    expect(op?.built.doc).toEqual({ id: 1, full_name: 'n' });
  });
  it('splits around a truncate and rejects keyless records', () => {
    const noKey = { ...rec('c', 1, { a: 1 }), key: null };
    const plan = planBatch([rec('c', 1, { id: 1 }), rec('t', 2, null), rec('c', 3, { id: 2 }), noKey], ctx);
    expect(plan.steps.map((s) => s.kind)).toEqual(['ops', 'truncate', 'ops']);
    expect(plan.rejected).toHaveLength(1);
    expect(plan.rejected[0]?.error.message).toMatch(/no key/);
    expect(planBatch([rec('t', 2, null)], { ...ctx, truncateMode: 'ignore' }).steps).toEqual([]);
  });
});

describe('collapse', () => {
  it('keeps the last op per document and remembers the superseded ones', () => {
    const plan = planBatch([rec('c', 1, { id: 1, v: 1 }), rec('c', 1, { id: 2 }), rec('u', 2, { id: 1, v: 2 }), rec('d', 3, null, { id: 2 }), rec('c', 4, { id: 2, v: 9 })], ctx);
    const ops = plan.steps[0]?.kind === 'ops' ? plan.steps[0].ops : [];
    const { kept, superseded } = collapse(ops);
    expect(kept.map((o) => `${o.kind}:${o.id}@${o.version}`)).toEqual(['index:1@2', 'index:2@4']);
    expect(superseded.get(kept[1]!)?.map((o) => `${o.kind}:${o.id}@${o.version}`)).toEqual(['index:2@1', 'delete:2@3']);
  });

  it('never lets a snapshot row at a lower version replace a newer change that precedes it in the partition', () => {
    // A table's snapshot (version = its consistent point 5) lands after a change streamed at 7.
    const plan = planBatch([rec('u', 7, { id: 1, v: 'new' }), rec('r', 5, { id: 1, v: 'snapshot' }), rec('r', 5, { id: 2, v: 's' })], ctx);
    const ops = plan.steps[0]?.kind === 'ops' ? plan.steps[0].ops : [];
    const { kept, superseded } = collapse(ops);
    expect(kept.map((o) => `${o.kind}:${o.id}@${o.version}`)).toEqual(['index:1@7', 'index:2@5']);
    expect(superseded.get(kept[0]!)?.map((o) => `${o.kind}:${o.id}@${o.version}`)).toEqual(['index:1@5']);
  });
});

describe('resolvePlaceholders (unchanged TOAST)', () => {
  it('fills from the previous op in the batch, else from the stored doc, else drops the field', async () => {
    const plan = planBatch(
      [
        rec('u', 5, { id: 1, a: 'new', big: UNAVAILABLE_VALUE }), // stored doc
        rec('u', 6, { id: 1, a: 'newer', big: UNAVAILABLE_VALUE }), // previous op in batch
        rec('u', 6, { id: 3, big: UNAVAILABLE_VALUE }), // nothing stored
        rec('c', 7, { id: 4, big: 'v4' }),
        rec('u', 8, { id: 5, big: UNAVAILABLE_VALUE }, { id: 4 }), // key change: fill from old id
        rec('u', 9, { id: 6, arr: [UNAVAILABLE_VALUE] }),
      ],
      ctx,
    );
    const asked: string[] = [];
    await resolvePlaceholders(plan.steps, async (keys) => {
      asked.push(...keys.map((k) => k.id));
      return new Map<string, Doc | null>([[opKey('x.t', '1'), { id: 1, a: 'old', big: 'stored big' }], [opKey('x.t', '6'), { id: 6, arr: [1, 2] }]]);
    });
    expect(asked.sort()).toEqual(['1', '3', '6']);
    const docs = plan.steps[0]?.kind === 'ops' ? plan.steps[0].ops.filter((o): o is IndexOp => o.kind === 'index').map((o) => o.doc) : [];
    expect(docs).toEqual([
      { id: 1, a: 'new', big: 'stored big' },
      { id: 1, a: 'newer', big: 'stored big' },
      { id: 3 },
      { id: 4, big: 'v4' },
      { id: 5, big: 'v4' },
      { id: 6, arr: [1, 2] },
    ]);
  });
  it('takes the value from a full before image (REPLICA IDENTITY FULL) without reading', async () => {
    const plan = planBatch([rec('u', 5, { id: 1, big: UNAVAILABLE_VALUE, other: UNAVAILABLE_VALUE }, { id: 1, big: 'from before' })], ctx);
    const asked: string[] = [];
    await resolvePlaceholders(plan.steps, async (keys) => {
      asked.push(...keys.map((k) => k.id));
      return new Map<string, Doc | null>([[opKey('x.t', '1'), { id: 1, big: 'stored', other: 'stored other' }]]);
    });
    expect(asked).toEqual(['1']); // still needed for `other`, which before lacks
    const op = plan.steps[0]?.kind === 'ops' ? (plan.steps[0].ops[0] as IndexOp) : undefined;
    expect(op?.doc).toEqual({ id: 1, big: 'from before', other: 'stored other' });
  });
  it('does not read stored docs after a truncate or a delete in the batch', async () => {
    const plan = planBatch([rec('t', 1, null), rec('u', 2, { id: 1, big: UNAVAILABLE_VALUE }), rec('d', 3, null, { id: 2 }), rec('u', 4, { id: 2, big: UNAVAILABLE_VALUE })], ctx);
    let calls = 0;
    await resolvePlaceholders(plan.steps, async () => {
      calls++;
      return new Map();
    });
    expect(calls).toBe(0);
    const step = plan.steps[1];
    expect(step?.kind === 'ops' ? step.ops.filter((o): o is IndexOp => o.kind === 'index').map((o) => o.doc) : []).toEqual([{ id: 1 }, { id: 2 }]);
  });
});
