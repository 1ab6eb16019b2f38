import { describe, expect, it } from 'vitest';
import { documentId, renderIndexName, validateIndexName } from './naming.js';

const vars = { prefix: 'Shop', db: 'postgres', schema: 'public', table: 'Orders', topic: 'shop.public.Orders' };

describe('index names', () => {
  it('renders the default template lower-cased', () => {
    expect(renderIndexName('{prefix}.{schema}.{table}', vars)).toBe('shop.public.orders');
    expect(renderIndexName('cdc-{table}', vars)).toBe('cdc-orders');
  });
  it('reports an unknown placeholder', () => {
    expect(renderIndexName('{prefix}.{tabel}', vars)).toEqual({ error: expect.stringContaining('unknown placeholder "{tabel}"') });
    expect(renderIndexName('${prefix}.${table}', vars)).toEqual({ error: expect.stringContaining('write "{prefix}.{table}"') });
  });
  it('enforces Elasticsearch naming rules', () => {
    expect(validateIndexName('shop.public.orders')).toBeNull();
    expect(validateIndexName('')).toMatch(/empty/);
    expect(validateIndexName('..')).toMatch(/not allowed/);
    expect(validateIndexName('Orders')).toMatch(/lower case/);
    expect(validateIndexName('a b')).toMatch(/contains " "/);
    expect(validateIndexName('a*b')).toMatch(/contains "\*"/);
    expect(validateIndexName('_x')).toMatch(/cannot start/);
    expect(validateIndexName('x'.repeat(256))).toMatch(/255 bytes/);
  });
});

describe('document ids', () => {
  it('uses the value of a single-column key', () => {
    expect(documentId({ id: 42 }, '|')).toBe('42');
    expect(documentId({ code: 'a|b' }, '|')).toBe('a|b');
    expect(documentId({ u: { x: 1 } }, '|')).toBe('{"x":1}');
  });
  it('joins composite keys unambiguously', () => {
    expect(documentId({ a: 1, b: 'x' }, '|')).toBe('1|x');
    const one = documentId({ a: 'x|', b: 'y' }, '|');
    const two = documentId({ a: 'x', b: '|y' }, '|');
    expect(one).toBe('x\\||y');
    expect(two).toBe('x|\\|y');
    expect(one).not.toBe(two);
    expect(documentId({ a: 'x\\', b: 'y' }, '|')).not.toBe(documentId({ a: 'x', b: '\\y' }, '|'));
  });
});
