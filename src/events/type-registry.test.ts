import { describe, expect, it } from 'vitest';
import { TypeRegistry } from './type-registry.js';

describe('TypeRegistry without a database', () => {
  it('serves built-in types and arrays with their element', async () => {
    const r = new TypeRegistry();
    await r.load([23, 1007, 1184]); // all built-in: no query needed
    expect(r.get(23)).toMatchObject({ name: 'int4', kind: 'int4' });
    expect(r.get(1007)).toMatchObject({ name: '_int4', kind: 'array', element: { name: 'int4' } });
    expect(r.resolve(1184).kind).toBe('timestamptz');
    expect(r.has(16)).toBe(true);
  });
  it('explains what is missing', async () => {
    const r = new TypeRegistry();
    expect(() => r.get(123456)).toThrow(/not loaded; call load\(\[123456\]\)/);
    await expect(r.load([123456])).rejects.toThrow(/not built-in and no database connection/);
  });
});
