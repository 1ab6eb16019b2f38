import { describe, expect, it } from 'vitest';
import { widenedType } from './widen.js';

describe('widenedType', () => {
  it('widens integers, floats, decimals and numbers to text, keeping the column nullability', () => {
    expect(widenedType('Int32', 'Int64')).toBe('Int64');
    expect(widenedType('Nullable(Int16)', 'Int64')).toBe('Nullable(Int64)');
    expect(widenedType('Nullable(Int32)', 'Nullable(Int64)')).toBe('Nullable(Int64)');
    expect(widenedType('Float32', 'Nullable(Float64)')).toBe('Float64');
    expect(widenedType('Nullable(Decimal(10, 2))', 'Nullable(Decimal(12, 2))')).toBe('Nullable(Decimal(12, 2))');
    expect(widenedType('Decimal(10, 2)', 'Decimal(14, 4)')).toBe('Decimal(14, 4)');
    expect(widenedType('Nullable(Int32)', 'Nullable(String)')).toBe('Nullable(String)');
    expect(widenedType('Array(Nullable(Int32))', 'Array(Nullable(Int64))')).toBe('Array(Nullable(Int64))');
  });
  it('refuses narrowing, losing integer digits or scale, and non-numeric changes', () => {
    expect(widenedType('Int64', 'Int32')).toBeNull();
    expect(widenedType('Int32', 'Int32')).toBeNull();
    expect(widenedType('Decimal(10, 2)', 'Decimal(10, 4)')).toBeNull(); // integer digits 8 → 6
    expect(widenedType('Decimal(10, 4)', 'Decimal(12, 2)')).toBeNull(); // scale 4 → 2
    expect(widenedType('Nullable(String)', 'Nullable(Int64)')).toBeNull();
    expect(widenedType('Date', 'String')).toBeNull();
    expect(widenedType('Int32', 'Float64')).toBeNull();
  });
});
