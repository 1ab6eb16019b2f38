import { describe, expect, it } from 'vitest';
import { EncodeError, daysToDate, defaultField, encodeField, escapeTsv, isoToMicros, microsToText, quoteString, unescapeTsv } from './encode.js';

describe('clickhouse value encoding (TSV)', () => {
  it('escapes and unescapes TSV text', () => {
    const s = "a\tb\nc\\d'e\r\0";
    expect(escapeTsv(s)).toBe("a\\tb\\nc\\\\d'e\\r\\0");
    expect(unescapeTsv(escapeTsv(s))).toBe(s);
    expect(unescapeTsv("it\\'s")).toBe("it's");
    expect(quoteString("it's \\ x")).toBe("'it\\'s \\\\ x'");
  });

  it('formats timestamps, dates and ISO strings exactly (micros, UTC)', () => {
    expect(microsToText(1700000000123456)).toBe('2023-11-14 22:13:20.123456');
    expect(microsToText(-1)).toBe('1969-12-31 23:59:59.999999');
    expect(microsToText(1700000000123456, 0)).toBe('2023-11-14 22:13:20');
    expect(isoToMicros('2023-11-14T22:13:20.123456Z')).toBe(1700000000123456);
    expect(isoToMicros('2023-11-14T23:13:20.5+01:00')).toBe(1700000000500000);
    expect(isoToMicros('2023-11-14T23:13:20+0100')).toBe(1700000000000000);
    expect(() => isoToMicros('yesterday')).toThrow(EncodeError);
    expect(daysToDate(0)).toBe('1970-01-01');
    expect(daysToDate(19000)).toBe('2022-01-08');
  });

  it('encodes scalars per ClickHouse type and validates them', () => {
    expect(encodeField('Int32', 'other', 5)).toBe('5');
    expect(encodeField('Int64', 'other', '9223372036854775807')).toBe('9223372036854775807');
    expect(() => encodeField('Int16', 'other', 40000)).toThrow(/out of range for Int16/);
    expect(() => encodeField('Int32', 'other', 1.5)).toThrow(/expected an integer/);
    expect(encodeField('UInt8', 'other', true)).toBe('1');
    expect(encodeField('Nullable(Float64)', 'other', 'NaN')).toBe('nan');
    expect(encodeField('Float64', 'other', '-Infinity')).toBe('-inf');
    expect(encodeField('Decimal(12, 3)', 'other', '-123.450')).toBe('-123.450');
    expect(() => encodeField('Decimal(5, 2)', 'other', '1234.5')).toThrow(/does not fit/);
    expect(() => encodeField('Decimal(5, 2)', 'other', '1.234')).toThrow(/does not fit/);
    expect(encodeField('Date', 'date', 19000)).toBe('2022-01-08');
    expect(() => encodeField('Date', 'date', -1)).toThrow(/outside ClickHouse Date/);
    expect(encodeField("DateTime64(6, 'UTC')", 'timestamp', 1700000000123456)).toBe('2023-11-14 22:13:20.123456');
    expect(encodeField("DateTime('UTC')", 'timestamptz', '2023-11-14T22:13:20.9Z')).toBe('2023-11-14 22:13:20');
    expect(encodeField('Nullable(String)', 'timestamp', 1700000000123456)).toBe('2023-11-14 22:13:20.123456');
    expect(encodeField('Nullable(String)', 'other', 1700000000123456)).toBe('1700000000123456');
    expect(encodeField('String', 'other', { a: 1 })).toBe('{"a":1}');
    expect(encodeField('Nullable(String)', 'other', null)).toBe('\\N');
    expect(() => encodeField('String', 'other', null)).toThrow(/NULL for non-nullable/);
  });

  it('encodes arrays as ClickHouse array literals (not TSV-escaped twice)', () => {
    expect(encodeField('Array(Nullable(Int32))', 'other', [1, null, 3])).toBe('[1,NULL,3]');
    expect(encodeField('Array(Nullable(String))', 'other', ["b'c", 'tab\there'])).toBe("['b\\'c','tab\\there']");
    expect(encodeField('Array(Nullable(Date))', 'date', [0])).toBe("['1970-01-01']");
    expect(encodeField('Array(Nullable(Int32))', 'other', null)).toBe('[]');
    expect(() => encodeField('Array(Nullable(Int32))', 'other', 'x')).toThrow(/expected an array/);
  });

  it('has a default for every type (delete rows)', () => {
    expect(defaultField('Nullable(Int32)')).toBe('\\N');
    expect(defaultField('Int32')).toBe('0');
    expect(defaultField('String')).toBe('');
    expect(defaultField('Array(Nullable(String))')).toBe('[]');
    expect(defaultField('Date')).toBe('1970-01-01');
  });
});

describe('compiled encoders', () => {
  it('match encodeField on fast and slow paths', async () => {
    const { encoderFor } = await import('./encode.js');
    const cases: [string, 'other' | 'timestamp', unknown][] = [
      ['Nullable(String)', 'other', 'a\tb'], ['Nullable(String)', 'other', null], ['Nullable(String)', 'other', 5], ['Int32', 'other', 7], ['Int64', 'other', '9223372036854775807'],
      ['Nullable(Float64)', 'other', 1.25], ['Nullable(Float64)', 'other', 'NaN'], ['UInt8', 'other', true], ['Nullable(String)', 'timestamp', 1700000000123456],
    ];
    for (const [t, k, v] of cases) expect(encoderFor(t, k)(v as never)).toBe(encodeField(t, k, v as never));
    expect(() => encoderFor('Int16', 'other')(70000)).toThrow(/out of range/);
  });
});
