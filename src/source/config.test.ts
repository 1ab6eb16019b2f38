import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { offsetsTopic, parseSourceConfig, sourceSpec, transactionalId } from './config.js';

describe('source config', () => {
  it('describes every field', () => {
    const undocumented = Object.entries(sourceSpec.shape as Record<string, z.ZodType>)
      .filter(([, f]) => !f.description)
      .map(([k]) => k);
    expect(undocumented).toEqual([]);
  });

  it('applies Debezium-named defaults and derives ids', () => {
    const c = parseSourceConfig({ name: 'orders', 'topic.prefix': 'shop' });
    expect(c['snapshot.mode']).toBe('initial');
    expect(c['publication.autocreate.mode']).toBe('all_tables');
    expect(c['tombstones.on.delete']).toBe(true);
    expect(offsetsTopic(c)).toBe('shop.cdc-fanout.offsets');
    expect(transactionalId(c)).toBe('cdc-fanout-orders');
  });

  it('explains what is wrong', () => {
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'snapshot.mode': 'sometimes' })).toThrow(/snapshot\.mode/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'slot.name': 'Bad-Slot' })).toThrow(/slot\.name: replication slot names/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'table.include.list': 'a', 'table.exclude.list': 'b' })).toThrow(/not both/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'no.such': 1 })).toThrow(/no\.such|Unrecognized/);
  });
});
