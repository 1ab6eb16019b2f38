import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from './change.js';

describe('parseLsn / formatLsn', () => {
  it('round-trips LSNs including the high word and the 32-bit edge', () => {
    for (const text of ['0/0', '0/16B3748', '1/0', 'FFFFFFFF/FFFFFFFF', 'A/FFFFFFFF']) expect(formatLsn(parseLsn(text))).toBe(text);
    expect(parseLsn('1/2')).toBe((1n << 32n) | 2n);
    expect(parseLsn('ab/CD')).toBe((0xabn << 32n) | 0xcdn);
    // either side of 2^53, where the parse switches from one double to two BigInts
    expect(parseLsn('1FFFFF/FFFFFFFF')).toBe((0x1fffffn << 32n) | 0xffffffffn);
    expect(parseLsn('200000/1')).toBe((0x200000n << 32n) | 1n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(0xffffffffffffffffn);
  });

  it('refuses what is not an LSN', () => {
    for (const bad of ['', '0', '0/', '/1', '0/1/2', 'G/1', '123456789/0', '0/123456789', ' 0/1', '0/1 ', '0/-1', '0x1/2']) expect(() => parseLsn(bad)).toThrow(/not an LSN/);
  });
});
