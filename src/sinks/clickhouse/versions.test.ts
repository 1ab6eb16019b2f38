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
});
