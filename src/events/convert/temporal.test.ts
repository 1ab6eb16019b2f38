import { describe, expect, it } from 'vitest';
import { civilFromDays, daysFromCivil, formatIsoInstant, formatIsoYear, parseTimestamp } from './temporal.js';

describe('civil calendar', () => {
  it('agrees with Date.UTC over a wide range and round-trips', () => {
    for (let days = -800_000; days <= 800_000; days += 997) {
      const [y, m, d] = civilFromDays(days);
      expect(daysFromCivil(y, m, d)).toBe(days);
      const dt = new Date(days * 86_400_000);
      expect([dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate()]).toEqual([y, m, d]);
    }
  });
  it('formats years like java.time', () => {
    expect(formatIsoYear(0)).toBe('0000');
    expect(formatIsoYear(-43)).toBe('-0043');
    expect(formatIsoYear(12345)).toBe('+12345');
    expect(formatIsoYear(999)).toBe('0999');
  });
});

describe('parseTimestamp', () => {
  it('normalises offsets across day boundaries', () => {
    const p = parseTimestamp('2024-01-01 00:00:00.000001+14');
    expect(p).toEqual({ days: daysFromCivil(2023, 12, 31), micros: 10 * 3600e6 + 1 });
    expect(formatIsoInstant(daysFromCivil(2023, 12, 31), 10 * 3600e6 + 1)).toBe('2023-12-31T10:00:00.000001Z');
  });
  it('rejects garbage', () => {
    expect(() => parseTimestamp('2024-01-01T00:00:00')).toThrow(/timestamp/);
    expect(() => parseTimestamp('2024-01-01 00:00:00 junk')).toThrow(/timestamp/);
  });
});
