import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventsSpec } from './config.js';
import { parseMessageKeyColumns } from './keys.js';
import { compileTopicNamer, prefixedTopic } from './topics.js';

describe('eventsSpec', () => {
  it('describes every field', () => {
    for (const [name, field] of Object.entries(eventsSpec.shape)) {
      expect((field as z.ZodType).description, name).toBeTruthy();
    }
  });
  it('applies defaults and rejects unknown keys and bad values', () => {
    const c = eventsSpec.parse({ 'topic.prefix': 'srv' });
    expect(c['decimal.handling.mode']).toBe('string');
    expect(c['tombstones.on.delete']).toBe(true);
    expect(() => eventsSpec.parse({ 'topic.prefix': 'srv', 'decimal.mode': 'x' })).toThrow();
    expect(() => eventsSpec.parse({ 'topic.prefix': 'a b' })).toThrow(/letters, digits/);
  });
});

describe('message.key.columns', () => {
  it('parses Debezium syntax with anchored table regexes', () => {
    const rules = parseMessageKeyColumns(' public.orders:tenant_id, id ; inv\\..*:uuid ');
    expect(rules.map((r) => r.columns)).toEqual([['tenant_id', 'id'], ['uuid']]);
    expect(rules[0]?.table.test('public.orders')).toBe(true);
    expect(rules[0]?.table.test('public.orders2')).toBe(false);
    expect(rules[1]?.table.test('inv.items')).toBe(true);
    expect(parseMessageKeyColumns('')).toEqual([]);
  });
  it('explains malformed entries', () => {
    expect(() => parseMessageKeyColumns('public.orders')).toThrow(/must look like/);
    expect(() => parseMessageKeyColumns('public.orders:')).toThrow(/must look like/);
    expect(() => parseMessageKeyColumns('(:id')).toThrow(/not a valid regular expression/);
  });
});

describe('topics', () => {
  it('names data topics from the template; replaces characters Kafka rejects', () => {
    const namer = compileTopicNamer('{prefix}.{schema}.{table}', 'srv');
    expect(namer('public', 'orders')).toBe('srv.public.orders');
    expect(namer('public', 'Straße x')).toBe('srv.public.Stra_e_x');
  });
  it('rejects unknown placeholders and resolves prefix-only templates', () => {
    expect(() => compileTopicNamer('{prefix}.{db}', 'srv')).toThrow(/unknown placeholder "\{db\}"/);
    expect(() => compileTopicNamer('${prefix}.${table}', 'srv')).toThrow('write "{prefix}.{table}"');
    expect(prefixedTopic('{prefix}.transaction', 'srv', 'transaction.topic')).toBe('srv.transaction');
    expect(() => prefixedTopic('{prefix} tx', 'srv', 'transaction.topic')).toThrow(/Kafka rejects/);
  });
});
