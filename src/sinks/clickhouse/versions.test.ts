import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VersionCache } from './versions.js';

describe('VersionCache', () => {
  it('keeps the higher version of a key and keeps tables apart', () => {
    const c = new VersionCache(10);
    c.set('a', '["1"]', 5n);
    c.set('a', '["1"]', 3n);
    c.set('b', '["1"]', 7n);
    expect(c.peek('a', '["1"]')).toBe(5n);
    expect(c.peek('b', '["1"]')).toBe(7n);
    expect(c.peek('a', '["2"]')).toBeUndefined();
    expect(c.size).toBe(2);
  });

  it('keeps versions beyond 2^53 exact', () => {
    const c = new VersionCache(10);
    const big = 2n ** 63n + 1n;
    c.set('a', 'k', big);
    c.set('a', 'k', 2n ** 53n + 1n);
    expect(c.peek('a', 'k')).toBe(big);
    c.set('a', 'j', 2n ** 53n + 1n);
    expect(c.peek('a', 'j')).toBe(2n ** 53n + 1n);
  });

  it('stays within max, evicting the least recently written key of the largest table', () => {
    const c = new VersionCache(4);
    c.set('a', '1', 1n);
    c.set('a', '2', 2n);
    c.set('a', '3', 3n);
    c.set('b', '1', 1n);
    c.set('a', '1', 4n); // refreshes a/1: a/2 is now a's oldest
    c.set('b', '2', 2n); // over max: a (3 entries) gives up a/2
    expect(c.size).toBe(4);
    expect(c.peek('a', '2')).toBeUndefined();
    expect(c.peek('a', '1')).toBe(4n);
    expect(c.peek('a', '3')).toBe(3n);
    expect(c.peek('b', '1')).toBe(1n);
    for (let i = 0; i < 100; i++) c.set('c', String(i), BigInt(i));
    expect(c.size).toBe(4);
  });

  it('clears one table or all, and stores nothing with max 0', () => {
    const c = new VersionCache(10);
    c.set('a', '1', 1n);
    c.set('a', '2', 1n);
    c.set('b', '1', 1n);
    c.clear('a');
    expect(c.size).toBe(1);
    expect(c.peek('a', '1')).toBeUndefined();
    expect(c.peek('b', '1')).toBe(1n);
    c.clear();
    expect(c.size).toBe(0);
    const off = new VersionCache(0);
    off.set('a', '1', 1n);
    expect(off.size).toBe(0);
    expect(off.peek('a', '1')).toBeUndefined();
  });

  it('evicts exactly as a plain write-order model does, over any mix of sets and clears', () => {
    // The model: per table its keys in write order (a re-set moves the key to the end); when over
    // max, the first table (in creation order) with the most keys loses its first key.
    type Op = { kind: 'set'; table: string; key: string; version: number } | { kind: 'clear'; table?: string };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 20, arbitrary: fc.record({ kind: fc.constant('set' as const), table: fc.constantFrom('a', 'b', 'c'), key: fc.integer({ min: 0, max: 30 }).map(String), version: fc.integer({ min: 0, max: 1000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), table: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }) }, { requiredKeys: ['kind'] }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 400 }), (max, ops) => {
        const cache = new VersionCache(max);
        const model = new Map<string, Map<string, bigint>>();
        for (const o of ops) {
          if (o.kind === 'clear') {
            cache.clear(o.table);
            if (o.table === undefined) model.clear();
            else model.delete(o.table);
            continue;
          }
          cache.set(o.table, o.key, BigInt(o.version));
          let t = model.get(o.table);
          if (!t) model.set(o.table, (t = new Map()));
          const cur = t.get(o.key);
          t.delete(o.key);
          t.set(o.key, cur !== undefined && cur > BigInt(o.version) ? cur : BigInt(o.version));
          let total = [...model.values()].reduce((n, m) => n + m.size, 0);
          while (total > max) {
            let largest: Map<string, bigint> | undefined;
            for (const m of model.values()) if (!largest || m.size > largest.size) largest = m;
            largest?.delete(largest.keys().next().value as string);
            total--;
          }
          expect(cache.size).toBe(total);
        }
        for (const table of ['a', 'b', 'c']) {
          for (let k = 0; k <= 30; k++) expect(cache.peek(table, String(k))).toBe(model.get(table)?.get(String(k)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('evicts in write order across many rounds of a full cache (the live iterator meets re-set keys at the end)', () => {
    const c = new VersionCache(100);
    for (let i = 0; i < 100; i++) c.set('t', String(i), 1n);
    // Re-set the first half: they move behind the second half.
    for (let i = 0; i < 50; i++) c.set('t', String(i), 2n);
    // 100 new keys evict the 100 old ones in write order: 50..99 first, then 0..49.
    for (let i = 0; i < 50; i++) c.set('t', `n${i}`, 3n);
    for (let i = 50; i < 100; i++) expect(c.peek('t', String(i))).toBeUndefined();
    for (let i = 0; i < 50; i++) expect(c.peek('t', String(i))).toBe(2n);
    for (let i = 50; i < 100; i++) c.set('t', `n${i}`, 3n);
    for (let i = 0; i < 50; i++) expect(c.peek('t', String(i))).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(c.peek('t', `n${i}`)).toBe(3n);
    expect(c.size).toBe(100);
  });
});
