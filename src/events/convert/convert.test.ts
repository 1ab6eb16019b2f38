import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_VALUE } from '../change.js';
import { builtinType } from '../builtin-types.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../config.js';
import { UNCHANGED_TOAST, type ColumnType } from '../types.js';
import { compileConverter, convertValue } from './index.js';

const t = builtinType;
const opts = (o: Partial<ConvertOptions>): ConvertOptions => ({ ...DEFAULT_CONVERT_OPTIONS, ...o });
const microsOf = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s) * 1000;

describe('convertValue: NULL and unchanged TOAST', () => {
  it('NULL is null and unchanged TOAST is the placeholder, for every kind', () => {
    for (const name of ['int4', 'text', 'jsonb', '_int4', 'bytea', 'timestamptz']) {
      expect(convertValue(null, t(name))).toBeNull();
      expect(convertValue(UNCHANGED_TOAST, t(name))).toBe(UNAVAILABLE_VALUE);
    }
  });
});

describe('integers', () => {
  it('int2/int4 are numbers', () => {
    expect(convertValue('-32768', t('int2'))).toBe(-32768);
    expect(convertValue('2147483647', t('int4'))).toBe(2147483647);
  });
  it('int8 is a number within ±(2^53-1), else an exact string', () => {
    expect(convertValue('9007199254740991', t('int8'))).toBe(9007199254740991);
    expect(convertValue('-9007199254740991', t('int8'))).toBe(-9007199254740991);
    expect(convertValue('9007199254740992', t('int8'))).toBe('9007199254740992');
    expect(convertValue('9223372036854775807', t('int8'))).toBe('9223372036854775807');
    expect(convertValue('-9223372036854775808', t('int8'))).toBe('-9223372036854775808');
  });
  it('bigint.handling.mode=string always gives strings', () => {
    expect(convertValue('42', t('int8'), opts({ 'bigint.handling.mode': 'string' }))).toBe('42');
  });
});

describe('numeric', () => {
  it('string mode keeps the exact text, including tiny values and NaN/Infinity', () => {
    expect(convertValue('0.000000000000000000000000000001', t('numeric'))).toBe('0.000000000000000000000000000001');
    expect(convertValue('123456789012345678901234567890.123456789', t('numeric'))).toBe('123456789012345678901234567890.123456789');
    expect(convertValue('NaN', t('numeric'))).toBe('NaN');
    expect(convertValue('-Infinity', t('numeric'))).toBe('-Infinity');
  });
  it('double mode gives numbers; NaN/Infinity stay strings', () => {
    const o = opts({ 'decimal.handling.mode': 'double' });
    expect(convertValue('12.50', t('numeric'), o)).toBe(12.5);
    expect(convertValue('NaN', t('numeric'), o)).toBe('NaN');
    expect(convertValue('Infinity', t('numeric'), o)).toBe('Infinity');
  });
  it('precise mode: Connect Decimal bytes for numeric(p,s), VariableScaleDecimal otherwise', () => {
    const o = opts({ 'decimal.handling.mode': 'precise' });
    const typmod = ((10 << 16) | 2) + 4; // numeric(10,2)
    // 12.50 → unscaled 1250 = 0x04E2
    expect(convertValue('12.50', t('numeric'), o, typmod)).toBe(Buffer.from([0x04, 0xe2]).toString('base64'));
    // -1.00 → unscaled -100 = 0x9C (two's complement, minimal)
    expect(convertValue('-1.00', t('numeric'), o, typmod)).toBe(Buffer.from([0x9c]).toString('base64'));
    // 128 with scale 0 needs a sign byte: 0x0080
    expect(convertValue('1.28', t('numeric'), o, typmod)).toBe(Buffer.from([0x00, 0x80]).toString('base64'));
    expect(convertValue('1.5', t('numeric'), o)).toEqual({ scale: 1, value: Buffer.from([15]).toString('base64') });
    expect(convertValue('NaN', t('numeric'), o)).toBeNull();
  });
});

describe('floats and booleans', () => {
  it('float4/float8 are numbers; NaN and ±Infinity strings', () => {
    expect(convertValue('0.1', t('float4'))).toBe(0.1);
    expect(convertValue('1e+30', t('float8'))).toBe(1e30);
    expect(convertValue('-1.5e-300', t('float8'))).toBe(-1.5e-300);
    expect(convertValue('NaN', t('float8'))).toBe('NaN');
    expect(convertValue('Infinity', t('float4'))).toBe('Infinity');
    expect(convertValue('-Infinity', t('float8'))).toBe('-Infinity');
  });
  it('bool t/f; bit(1) is a boolean, bit(n) its text', () => {
    expect(convertValue('t', t('bool'))).toBe(true);
    expect(convertValue('f', t('bool'))).toBe(false);
    expect(convertValue('1', t('bit'), DEFAULT_CONVERT_OPTIONS, 1)).toBe(true);
    expect(convertValue('0101', t('bit'), DEFAULT_CONVERT_OPTIONS, 4)).toBe('0101');
  });
});

describe('strings', () => {
  it('text-like, uuid, json/jsonb, inet, money, ranges stay their text', () => {
    expect(convertValue('héllo "x"', t('text'))).toBe('héllo "x"');
    expect(convertValue('ab  ', t('bpchar'))).toBe('ab  ');
    expect(convertValue('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', t('uuid'))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(convertValue('{"a": [1, 2]}', t('jsonb'))).toBe('{"a": [1, 2]}');
    expect(convertValue('192.168.0.1/24', t('inet'))).toBe('192.168.0.1/24');
    expect(convertValue('$1,234.56', t('money'))).toBe('$1,234.56');
    expect(convertValue('[1,10)', t('int4range'))).toBe('[1,10)');
  });
  it('enum and domain types follow their kind', () => {
    const mood: ColumnType = { oid: 90001, name: 'mood', schema: 'public', typmod: -1, category: 'E', kind: 'enum', delimiter: ',', enumLabels: ['sad', 'ok'] };
    expect(convertValue('ok', mood)).toBe('ok');
    const numeric = t('numeric');
    const money2: ColumnType = { oid: 90002, name: 'amount', schema: 'public', typmod: ((12 << 16) | 2) + 4, category: 'N', kind: 'numeric', delimiter: ',', base: numeric };
    expect(convertValue('10.20', money2)).toBe('10.20');
    expect(convertValue('10.20', money2, { ...DEFAULT_CONVERT_OPTIONS, 'decimal.handling.mode': 'precise' })).toBe(Buffer.from([0x03, 0xfc]).toString('base64'));
  });
});

describe('bytea', () => {
  it('hex text → base64 by default, hex and url-safe optionally', () => {
    expect(convertValue('\\xdeadbeef00ff', t('bytea'))).toBe(Buffer.from('deadbeef00ff', 'hex').toString('base64'));
    expect(convertValue('\\x', t('bytea'))).toBe('');
    expect(convertValue('\\xfbff', t('bytea'), opts({ 'binary.handling.mode': 'hex' }))).toBe('fbff');
    expect(convertValue('\\xfbff', t('bytea'), opts({ 'binary.handling.mode': 'base64-url-safe' }))).toBe('-_8');
  });
  it('escape-format text is decoded too', () => {
    expect(convertValue('a\\\\b\\000\\377', t('bytea'), opts({ 'binary.handling.mode': 'hex' }))).toBe('615c6200ff');
  });
});

describe('date', () => {
  it('days since epoch, BC and infinity', () => {
    expect(convertValue('1970-01-01', t('date'))).toBe(0);
    expect(convertValue('2024-02-29', t('date'))).toBe(Date.UTC(2024, 1, 29) / 86_400_000);
    expect(convertValue('1900-03-01', t('date'))).toBe(Date.UTC(1900, 2, 1) / 86_400_000);
    expect(convertValue('0001-01-01 BC', t('date'))).toBe(-719528); // astronomical year 0
    expect(convertValue('10000-01-01', t('date'))).toBe(2932897);
    expect(convertValue('infinity', t('date'))).toBe(2147483647);
    expect(convertValue('-infinity', t('date'))).toBe(-2147483648);
  });
  it('isostring mode', () => {
    const o = opts({ 'time.precision.mode': 'isostring' });
    expect(convertValue('2024-02-29', t('date'), o)).toBe('2024-02-29');
    expect(convertValue('0044-03-15 BC', t('date'), o)).toBe('-0043-03-15');
    expect(convertValue('infinity', t('date'), o)).toBe('infinity');
  });
  it('rejects text that is not ISO DateStyle with a helpful message', () => {
    expect(() => convertValue('01/02/2024', t('date'))).toThrow(/DateStyle/);
  });
});

describe('timestamp (MicroTimestamp)', () => {
  it('exact micros, no Date rounding', () => {
    expect(convertValue('2024-01-02 03:04:05.123456', t('timestamp'))).toBe(microsOf(2024, 1, 2, 3, 4, 5) + 123456);
    expect(convertValue('2024-01-02 03:04:05.1', t('timestamp'))).toBe(microsOf(2024, 1, 2, 3, 4, 5) + 100000);
    expect(convertValue('1969-12-31 23:59:59.999999', t('timestamp'))).toBe(-1);
    expect(convertValue('1970-01-01 00:00:00.000001', t('timestamp'))).toBe(1);
  });
  it('precision ≤ 3 gives millis (adaptive) like Debezium Timestamp; connect always millis', () => {
    expect(convertValue('2024-01-02 03:04:05.123', t('timestamp'), DEFAULT_CONVERT_OPTIONS, 3)).toBe(microsOf(2024, 1, 2, 3, 4, 5) / 1000 + 123);
    expect(convertValue('2024-01-02 03:04:05.123456', t('timestamp'), opts({ 'time.precision.mode': 'connect' }))).toBe(microsOf(2024, 1, 2, 3, 4, 5) / 1000 + 123);
  });
  it('beyond ±2^53 micros (before ~1685, after ~2255) an exact decimal string', () => {
    // 44 BC is astronomical year -43
    expect(convertValue('0044-03-15 12:00:00.000001 BC', t('timestamp'))).toBe(String(BigInt(daysOf(-43, 3, 15)) * 86400000000n + 43200000001n));
    expect(convertValue('3000-01-01 00:00:00', t('timestamp'))).toBe(String(BigInt(daysOf(3000, 1, 1)) * 86400000000n));
  });
  it('infinity like Debezium (JDBC DATE_POSITIVE/NEGATIVE_INFINITY)', () => {
    expect(convertValue('infinity', t('timestamp'))).toBe('9223372036825200000');
    expect(convertValue('-infinity', t('timestamp'))).toBe('-9223372036832400000');
    // millisecond columns (timestamp(3), adaptive): Debezium's value / 1000 (seen in its output)
    expect(convertValue('infinity', t('timestamp'), DEFAULT_CONVERT_OPTIONS, 3)).toBe('9223372036825200');
    expect(convertValue('-infinity', t('timestamp'), DEFAULT_CONVERT_OPTIONS, 0)).toBe('-9223372036832400');
  });
});

function daysOf(y: number, m: number, d: number): number {
  // independent day count via Date's proleptic Gregorian calendar (whole days only, no micros)
  const dt = new Date(0);
  dt.setUTCFullYear(y, m - 1, d);
  dt.setUTCHours(0, 0, 0, 0);
  return Math.round(dt.getTime() / 86_400_000);
}

describe('timestamptz (ZonedTimestamp)', () => {
  it('UTC ISO string with the exact fraction, any offset', () => {
    // Debezium 3.6 ZonedTimestamp: exactly the column's precision in fraction digits (6 by default)
    expect(convertValue('2024-01-02 03:04:05.123456+00', t('timestamptz'))).toBe('2024-01-02T03:04:05.123456Z');
    expect(convertValue('2024-01-02 03:04:05.1+00', t('timestamptz'), DEFAULT_CONVERT_OPTIONS, 3)).toBe('2024-01-02T03:04:05.100Z');
    expect(convertValue('2024-01-02 03:04:05+00', t('timestamptz'), DEFAULT_CONVERT_OPTIONS, 0)).toBe('2024-01-02T03:04:05Z');
    expect(convertValue('2024-01-02 03:04:05.12+05:30', t('timestamptz'))).toBe('2024-01-01T21:34:05.120000Z');
    expect(convertValue('2024-12-31 20:00:00-08', t('timestamptz'))).toBe('2025-01-01T04:00:00.000000Z');
    expect(convertValue('1900-01-01 05:21:10+05:21:10', t('timestamptz'))).toBe('1900-01-01T00:00:00.000000Z');
    expect(convertValue('2024-03-01 00:30:00+01', t('timestamptz'))).toBe('2024-02-29T23:30:00.000000Z');
  });
  it('BC, years beyond 9999 and infinity', () => {
    expect(convertValue('0044-03-15 12:00:00+00 BC', t('timestamptz'))).toBe('-0043-03-15T12:00:00.000000Z');
    expect(convertValue('0001-01-01 00:30:00+01', t('timestamptz'))).toBe('0000-12-31T23:30:00.000000Z');
    expect(convertValue('10000-01-01 00:00:00+00', t('timestamptz'))).toBe('+10000-01-01T00:00:00.000000Z');
    expect(convertValue('infinity', t('timestamptz'))).toBe('infinity');
    expect(convertValue('-infinity', t('timestamptz'))).toBe('-infinity');
  });
});

describe('time and timetz', () => {
  it('time → micros since midnight (MicroTime); 24:00:00 allowed', () => {
    expect(convertValue('00:00:00', t('time'))).toBe(0);
    expect(convertValue('13:14:15.000001', t('time'))).toBe((13 * 3600 + 14 * 60 + 15) * 1e6 + 1);
    expect(convertValue('24:00:00', t('time'))).toBe(86_400_000_000);
  });
  it('time(3) → millis in adaptive mode, micros with adaptive_time_microseconds', () => {
    expect(convertValue('00:00:01.5', t('time'), DEFAULT_CONVERT_OPTIONS, 3)).toBe(1500);
    expect(convertValue('00:00:01.5', t('time'), opts({ 'time.precision.mode': 'adaptive_time_microseconds' }), 3)).toBe(1_500_000);
  });
  it('timetz → ZonedTime ISO string in UTC', () => {
    expect(convertValue('12:00:00+05:30', t('timetz'))).toBe('06:30:00Z');
    expect(convertValue('23:30:00.25-02', t('timetz'))).toBe('01:30:00.25Z');
    expect(convertValue('01:00:00+03', t('timetz'))).toBe('22:00:00Z');
  });
});

describe('interval', () => {
  const month = 2_629_800_000_000; // 30.4375 days
  const day = 86_400_000_000;
  it('MicroDuration with Debezium month approximation', () => {
    expect(convertValue('00:00:00', t('interval'))).toBe(0);
    expect(convertValue('1 mon', t('interval'))).toBe(month);
    expect(convertValue('1 year 2 mons 3 days 04:05:06.5', t('interval'))).toBe(14 * month + 3 * day + 14_706_500_000);
    expect(convertValue('-1 days', t('interval'))).toBe(-day);
    expect(convertValue('1 day -00:00:01', t('interval'))).toBe(day - 1_000_000);
    expect(convertValue('-1 years -2 mons +3 days -04:05:06.000001', t('interval'))).toBe(-14 * month + 3 * day - 14_706_000_001);
    expect(convertValue('178000000 years', t('interval'))).toBe(String(178_000_000n * 12n * 2_629_800_000_000n));
    expect(convertValue('infinity', t('interval'))).toBe('infinity');
    expect(() => convertValue('P1Y', t('interval'))).toThrow(/IntervalStyle=postgres/);
  });
  it('ISO-8601 string mode like Debezium (every component)', () => {
    const o = opts({ 'interval.handling.mode': 'string' });
    expect(convertValue('1 year 2 mons -3 days -04:05:06.5', t('interval'), o)).toBe('P1Y2M-3DT-4H-5M-6.5S');
    expect(convertValue('00:00:00', t('interval'), o)).toBe('P0Y0M0DT0H0M0S');
    expect(convertValue('-00:00:00.25', t('interval'), o)).toBe('P0Y0M0DT0H0M-0.25S');
  });
});

describe('arrays', () => {
  it('int arrays, nested, NULL elements', () => {
    expect(convertValue('{1,2,NULL}', t('_int4'))).toEqual([1, 2, null]);
    expect(convertValue('{{1,2},{3,4}}', t('_int4'))).toEqual([[1, 2], [3, 4]]);
    expect(convertValue('{}', t('_int4'))).toEqual([]);
    expect(convertValue('[0:1]={7,8}', t('_int4'))).toEqual([7, 8]);
  });
  it('text arrays with quoting and escapes; "NULL" quoted is a string', () => {
    expect(convertValue('{"a b","\\"q\\"",NULL,"NULL","","back\\\\slash",plain,"{x,y}"}', t('_text'))).toEqual([
      'a b',
      '"q"',
      null,
      'NULL',
      '',
      'back\\slash',
      'plain',
      '{x,y}',
    ]);
  });
  it('element conversion applies (timestamptz, numeric typmod, jsonb, bytea)', () => {
    expect(convertValue('{"2024-01-02 03:04:05+00","2024-01-02 03:04:05.5-01"}', t('_timestamptz'))).toEqual(['2024-01-02T03:04:05.000000Z', '2024-01-02T04:04:05.500000Z']);
    expect(convertValue('{1.50,NaN}', t('_numeric'))).toEqual(['1.50', 'NaN']);
    expect(convertValue('{"{\\"a\\": 1}"}', t('_jsonb'))).toEqual(['{"a": 1}']);
    expect(convertValue('{"\\\\x00ff"}', t('_bytea'))).toEqual(['AP8=']);
    expect(convertValue('{t,f}', t('_bool'))).toEqual([true, false]);
  });
  it('box arrays use the ";" delimiter', () => {
    expect(convertValue('{(3,4),(1,2);(5,6),(0,0)}', t('_box'))).toEqual(['(3,4),(1,2)', '(5,6),(0,0)']);
  });
});

describe('hstore', () => {
  const hstore: ColumnType = { oid: 90003, name: 'hstore', schema: 'public', typmod: -1, category: 'U', kind: 'hstore', delimiter: ',' };
  const text = '"a"=>"1", "b"=>NULL, "q\\"k"=>"v\\\\"';
  it('json mode (Debezium default): a string holding a JSON object', () => {
    expect(JSON.parse(convertValue(text, hstore) as string)).toEqual({ a: '1', b: null, 'q"k': 'v\\' });
  });
  it('map mode: an object', () => {
    expect(convertValue(text, hstore, opts({ 'hstore.handling.mode': 'map' }))).toEqual({ a: '1', b: null, 'q"k': 'v\\' });
    expect(convertValue('', hstore, opts({ 'hstore.handling.mode': 'map' }))).toEqual({});
  });
});

describe('compileConverter caching', () => {
  it('returns the same function for the same type, typmod and options', () => {
    expect(compileConverter(t('int4'), -1, DEFAULT_CONVERT_OPTIONS)).toBe(compileConverter(t('int4'), -1, DEFAULT_CONVERT_OPTIONS));
    expect(compileConverter(t('time'), 3, DEFAULT_CONVERT_OPTIONS)).not.toBe(compileConverter(t('time'), 6, DEFAULT_CONVERT_OPTIONS));
  });
});
