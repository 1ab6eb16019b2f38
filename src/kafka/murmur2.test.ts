import { murmur2 as libraryMurmur2 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { keyHash, murmur2 } from './murmur2.js';

describe('murmur2', () => {
  it('matches the reference implementation for every length remainder, UTF-8 and long keys', () => {
    const keys = ['', 'a', 'ab', 'abc', 'abcd', '{"id":42}', 'ünïcødé ✓ 🚀', 'x'.repeat(2000) + 'é', 'abcé', '{"id":"naïve"}', 'y'.repeat(64), 'y'.repeat(65), 'y'.repeat(63) + '✓'];
    for (let i = 0; i < 500; i++) keys.push(JSON.stringify({ id: i, tenant: `t-${(i * 7919) % 97}` }));
    for (const key of keys) {
      const bytes = Buffer.from(key, 'utf8');
      expect(murmur2(bytes), key).toBe(libraryMurmur2(bytes));
      expect(keyHash(key), key).toBe(libraryMurmur2(bytes) & 0x7fffffff);
      expect(keyHash(bytes), key).toBe(libraryMurmur2(bytes) & 0x7fffffff);
    }
  });

  it('gives the values the Java client gives', () => {
    // From Kafka's UtilsTest#testMurmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([0x61, 0x62, 0x63]))).toBe(479470107);
  });
});
