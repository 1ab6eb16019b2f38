import { describe, expect, it } from 'vitest';
import { adaptRow, backfillDoc, type TableShape } from './schema.js';

const shape: TableShape = {
  columns: { id: 1, b: 2, d: 3 },
  renamed: { a: { to: 'b', before: '300' } },
  defaults: { d: { value: 7, before: '300' } },
  pending: [],
};

describe('Elasticsearch schema changes', () => {
  it('adapts only changes committed before the first change in the new shape', () => {
    expect(adaptRow({ id: 2, a: 'old' }, shape, 200n, true)).toEqual({ id: 2, b: 'old', d: 7 });
    // after: a column lacking then was dropped since; a NULL stays NULL
    const later = { id: 2, b: 'new' };
    expect(adaptRow(later, shape, 400n, true)).toBe(later);
    expect(adaptRow({ id: 2, a: 'x', d: null }, shape, 200n, true)).toEqual({ id: 2, b: 'x', d: null });
    // before images get no default (they only fill unchanged-TOAST values)
    expect(adaptRow({ id: 2, a: 'x' }, shape, 200n, false)).toEqual({ id: 2, b: 'x' });
  });

  it('rewrites stored documents by the document field names (fields.rename / exclude), or leaves them (null)', () => {
    const changes = [{ kind: 'rename', from: 'a', to: 'b' }, { kind: 'default', column: 'd', value: 7 }] as const;
    expect(backfillDoc({ id: 1, a: 'x' }, changes, {})).toEqual({ id: 1, b: 'x', d: 7 });
    expect(backfillDoc({ id: 1, b: 'y', d: null }, changes, {})).toBeNull();
    expect(backfillDoc({ id: 1, A: 'x' }, changes, { rename: { a: 'A', b: 'B' }, exclude: ['d'] })).toEqual({ id: 1, B: 'x' });
  });
});
