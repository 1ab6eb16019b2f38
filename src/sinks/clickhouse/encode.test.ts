import { describe, expect, it } from 'vitest';
import { EncodeError, daysToDate, defaultField, encodeField, encoderFor, escapeTsv, isoToMicros, isoToMicrosBig, microsToText, quoteString, unescapeTsv } from './encode.js';

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
    expect(encodeField('Array(Nullable(Date))', 'date', [1])).toBe("['1970-01-02']");
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

describe('values Postgres emits that a typed column cannot hold (issue 14)', () => {
  const Y1 = '-62135596800000000'; // 0001-01-01 00:00:00 in epoch micros (beyond 2^53: a string)
  it('formats any year exactly, never via JS Date', () => {
    expect(microsToText(BigInt(Y1))).toBe('0001-01-01 00:00:00.000000');
    expect(microsToText(253402300799999999n)).toBe('9999-12-31 23:59:59.999999');
    expect(microsToText(-62167219200000001n)).toBe('-0001-12-31 23:59:59.999999');
    expect(daysToDate(-719162)).toBe('0001-01-01');
    expect(isoToMicrosBig('0001-01-01T00:00:00Z')).toBe(BigInt(Y1));
    expect(isoToMicrosBig('-0043-03-15T12:00:00Z')).toBe(-63517780800000000n);
    expect(isoToMicrosBig('+10000-01-01T00:00:00Z')).toBe(253402300800000000n);
    expect(isoToMicrosBig('2024-01-01T05:53:28+05:53:28')).toBe(1704067200000000n);
  });
  it('String columns (18.16 timestamps, keys) hold every value as canonical text', () => {
    expect(encodeField('Nullable(String)', 'timestamp', Y1)).toBe('0001-01-01 00:00:00.000000');
    expect(encodeField('Nullable(String)', 'timestamp', '9223372036825200000')).toBe('infinity');
    expect(encodeField('Nullable(String)', 'timestamp', '-9223372036832400000')).toBe('-infinity');
    expect(encodeField('Nullable(String)', 'timestamp-ms', 1700000000123)).toBe('2023-11-14 22:13:20.123000');
    // timestamp(0..3) ±infinity: the millisecond sentinels (Debezium's micros sentinels / 1000)
    expect(encodeField('Nullable(String)', 'timestamp-ms', '9223372036825200')).toBe('infinity');
    expect(encodeField('Nullable(String)', 'timestamp-ms', '-9223372036832400')).toBe('-infinity');
    expect(encodeField('Nullable(String)', 'timestamptz', 'infinity')).toBe('infinity');
    expect(encodeField('Nullable(String)', 'timestamptz', '9999-12-31T23:59:59.999999Z')).toBe('9999-12-31 23:59:59.999999');
    expect(encodeField('String', 'date', 2147483647)).toBe('infinity');
    expect(encodeField('String', 'date', -719162)).toBe('0001-01-01');
    expect(encodeField('Array(Nullable(String))', 'timestamptz', ['infinity', null, '0001-01-01T00:00:00Z'])).toBe("['infinity',NULL,'0001-01-01 00:00:00.000000']");
  });
  it('typed + raw pairs never reject and keep the exact value in the companion', () => {
    const pair = (type: string, kind: Parameters<typeof encoderFor>[1], v: unknown): [string, string] => [encoderFor(type, kind, 'typed')(v as never), encoderFor('Nullable(String)', kind, 'raw', type)(v as never)];
    const DT64 = "Nullable(DateTime64(6, 'UTC'))";
    expect(pair(DT64, 'timestamp', 1700000000123456)).toEqual(['2023-11-14 22:13:20.123456', '\\N']);
    expect(pair(DT64, 'timestamp', Y1)).toEqual(['\\N', '0001-01-01 00:00:00.000000']);
    expect(pair(DT64, 'timestamptz', 'infinity')).toEqual(['\\N', 'infinity']);
    expect(pair(DT64, 'timestamptz', '-infinity')).toEqual(['\\N', '-infinity']);
    expect(pair(DT64, 'timestamptz', '9999-12-31T23:59:59.999999Z')).toEqual(['\\N', '9999-12-31 23:59:59.999999']);
    expect(pair("Nullable(DateTime('UTC'))", 'timestamp', -1)).toEqual(['\\N', '1969-12-31 23:59:59.999999']);
    expect(pair('Nullable(Date)', 'date', 19000)).toEqual(['2022-01-08', '\\N']);
    expect(pair('Nullable(Date)', 'date', -719162)).toEqual(['\\N', '0001-01-01']);
    expect(pair('Nullable(Date)', 'date', -2147483648)).toEqual(['\\N', '-infinity']);
    expect(pair('Nullable(Decimal(5, 2))', 'other', '123.45')).toEqual(['123.45', '\\N']);
    expect(pair('Nullable(Decimal(5, 2))', 'other', 'NaN')).toEqual(['\\N', 'NaN']);
    expect(pair('Nullable(Decimal(5, 2))', 'other', 'Infinity')).toEqual(['\\N', 'Infinity']);
    expect(pair('Nullable(Decimal(5, 2))', 'other', 'AeI=')).toEqual(['\\N', 'AeI=']); // decimal.handling.mode=precise
    expect(pair('Nullable(Date)', 'date', null)).toEqual(['\\N', '\\N']);
    expect(pair('Nullable(Date)', 'date', 0)).toEqual(['\\N', '1970-01-01']); // 18.16 prints day 0 as 0000-00-00
    // floats: the typed column keeps the server's parse; the exact text where 18.16 could round it
    expect(pair('Nullable(Float64)', 'other', 0.1)).toEqual(['0.1', '\\N']);
    expect(pair('Nullable(Float64)', 'other', 'NaN')).toEqual(['nan', '\\N']);
    expect(pair('Nullable(Float64)', 'other', 5e-324)).toEqual(['5e-324', '5e-324']);
    expect(pair('Nullable(Float64)', 'other', 4.500643473222406e-178)).toEqual(['4.500643473222406e-178', '4.500643473222406e-178']);
    expect(pair('Nullable(Float64)', 'other', 0.30000000000000004)).toEqual(['0.30000000000000004', '0.30000000000000004']);
    expect(pair('Nullable(Float64)', 'other', 123456789012345)).toEqual(['123456789012345', '\\N']);
    expect(pair('Nullable(Float64)', 'other', 1e22)).toEqual(['1e+22', '\\N']);
    expect(pair('Nullable(Float64)', 'other', 1e23)).toEqual(['1e+23', '1e+23']);
    expect(pair('Nullable(Float32)', 'other', 1.5)).toEqual(['1.5', '\\N']);
    expect(pair('Nullable(Float32)', 'other', -1.0244164e24)).toEqual(['-1.0244164e+24', '-1.0244164e+24']);
    expect(pair('Nullable(Float32)', 'other', 8.0902265e-7)).toEqual(['8.0902265e-7', '8.0902265e-7']);
    const arr = (v: unknown): [string, string] => [encoderFor('Array(Nullable(Int32))', 'other', 'typed')(v as never), encoderFor('Nullable(String)', 'other', 'raw', 'Array(Nullable(Int32))')(v as never)];
    expect(arr([1, null])).toEqual(['[1,NULL]', '\\N']);
    expect(arr([[1, 2], [3, null]])).toEqual(['[]', '[[1,2],[3,null]]']);
    expect(arr(null)).toEqual(['[]', 'null']);
    expect(arr([])).toEqual(['[]', '\\N']);
  });
  it('strict (no companion) rejects with a range error, not a type mismatch', () => {
    let err: unknown;
    try {
      encodeField("DateTime64(6, 'UTC')", 'timestamp', Y1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).typeMismatch).toBe(false);
    expect((err as Error).message).toMatch(/0001-01-01 00:00:00.000000 is outside DateTime64's range/);
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
