/**
 * Builds one converter function per (ColumnType, typmod, options) and caches it, so the hot path
 * only calls a closure: no type resolution, no option checks per value.
 * Input is the Postgres text output of a non-NULL value; output the Debezium JSON value.
 */
import type { JsonValue } from '../change.js';
import type { ConvertOptions } from '../config.js';
import type { ColumnType } from '../types.js';
import { parseArrayLiteral, type ArrayItems } from './array-literal.js';
import { parseBytea } from './bytea.js';
import { parseHstore } from './hstore.js';
import { intervalIso, intervalMicros, parseInterval } from './interval.js';
import { numericPrecise, numericScale, numericToDouble } from './numeric.js';
import { epochMicros, formatIsoDate, formatIsoInstant, formatIsoTime, parseDate, parseTime, parseTimeTz, parseTimestamp } from './temporal.js';

export type TextConverter = (text: string) => JsonValue;

/** Debezium's values for timestamp ±infinity (the PostgreSQL JDBC driver's DATE_POSITIVE/NEGATIVE_INFINITY), as decimal strings (beyond 2^53). */
export const TIMESTAMP_POSITIVE_INFINITY = '9223372036825200000';
export const TIMESTAMP_NEGATIVE_INFINITY = '-9223372036832400000';
/** The same in the millisecond forms (timestamp(0..3) adaptive, connect): Debezium divides by 1000. */
export const TIMESTAMP_POSITIVE_INFINITY_MS = '9223372036825200';
export const TIMESTAMP_NEGATIVE_INFINITY_MS = '-9223372036832400';
/** date ±infinity in the numeric (days) modes: the int32 bounds. */
export const DATE_POSITIVE_INFINITY = 2147483647;
export const DATE_NEGATIVE_INFINITY = -2147483648;

const identity: TextConverter = (text) => text;
const isInfinite = (text: string): boolean => text === 'infinity' || text === '-infinity';

function floatConverter(text: string): JsonValue {
  const c = text.charCodeAt(text.length - 1);
  // NaN, Infinity, -Infinity stay strings (JSON has no such numbers; Jackson writes them quoted too).
  if (c === 78 || c === 121) return text;
  return Number(text);
}

/** Fractional-second precision of time/timestamp(p) from its typmod (default 6). */
export function temporalPrecision(typmod: number): number {
  return typmod >= 0 && typmod <= 6 ? typmod : 6;
}

function dateConverter(options: ConvertOptions): TextConverter {
  if (options['time.precision.mode'] === 'isostring') {
    return (text) => {
      const d = parseDate(text);
      return typeof d === 'number' ? formatIsoDate(d) : d;
    };
  }
  return (text) => {
    const d = parseDate(text);
    if (typeof d === 'number') return d;
    return d === 'infinity' ? DATE_POSITIVE_INFINITY : DATE_NEGATIVE_INFINITY;
  };
}

function timeConverter(typmod: number, options: ConvertOptions): TextConverter {
  const mode = options['time.precision.mode'];
  if (mode === 'isostring') return (text) => formatIsoTime(parseTime(text));
  const millis = mode === 'connect' || (mode === 'adaptive' && temporalPrecision(typmod) <= 3);
  if (millis) return (text) => Math.floor(parseTime(text) / 1000);
  return (text) => parseTime(text);
}

function timestampConverter(typmod: number, options: ConvertOptions): TextConverter {
  const mode = options['time.precision.mode'];
  if (mode === 'isostring') {
    return (text) => {
      const t = parseTimestamp(text);
      return typeof t === 'string' ? t : formatIsoInstant(t.days, t.micros);
    };
  }
  const millis = mode === 'connect' || temporalPrecision(typmod) <= 3;
  return (text) => {
    const t = parseTimestamp(text);
    if (typeof t === 'string') {
      if (millis) return t === 'infinity' ? TIMESTAMP_POSITIVE_INFINITY_MS : TIMESTAMP_NEGATIVE_INFINITY_MS;
      return t === 'infinity' ? TIMESTAMP_POSITIVE_INFINITY : TIMESTAMP_NEGATIVE_INFINITY;
    }
    if (millis) return t.days * 86_400_000 + Math.floor(t.micros / 1000);
    return epochMicros(t.days, t.micros);
  };
}

/**
 * Debezium 3.6's ZonedTimestamp: exactly as many fraction digits as the column's precision
 * (timestamptz = 6, so `…05.500000Z`); precision 0 → no fraction.
 */
function timestamptzConverter(typmod: number): TextConverter {
  const digits = temporalPrecision(typmod);
  return (text) => {
    const t = parseTimestamp(text);
    return typeof t === 'string' ? t : formatIsoInstant(t.days, t.micros, digits);
  };
}

function byteaConverter(options: ConvertOptions): TextConverter {
  switch (options['binary.handling.mode']) {
    case 'hex':
      return (text) => parseBytea(text).toString('hex');
    case 'base64-url-safe':
      return (text) => parseBytea(text).toString('base64url');
    default:
      return (text) => parseBytea(text).toString('base64');
  }
}

function numericConverter(typmod: number, options: ConvertOptions): TextConverter {
  switch (options['decimal.handling.mode']) {
    case 'double':
      return numericToDouble;
    case 'precise': {
      const scale = numericScale(typmod);
      return (text) => numericPrecise(text, scale);
    }
    default:
      return identity;
  }
}

function arrayConverter(type: ColumnType, typmod: number, options: ConvertOptions): TextConverter {
  const element = type.element;
  if (!element) throw new Error(`array type ${type.schema}.${type.name} has no element type`);
  const convertElement = compileConverter(element, typmod, options);
  const delimiter = type.delimiter;
  const map = (items: ArrayItems): JsonValue[] => {
    const out: JsonValue[] = new Array<JsonValue>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as string | null | ArrayItems;
      out[i] = item === null ? null : typeof item === 'string' ? convertElement(item) : map(item);
    }
    return out;
  };
  return (text) => map(parseArrayLiteral(text, delimiter));
}

function build(type: ColumnType, typmod: number, options: ConvertOptions): TextConverter {
  switch (type.kind) {
    case 'bool':
      return (text) => text === 't';
    case 'int2':
    case 'int4':
    case 'oid':
      return (text) => Number(text);
    case 'int8':
      if (options['bigint.handling.mode'] === 'string') return identity;
      return (text) => {
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : text;
      };
    case 'float4':
    case 'float8':
      return floatConverter;
    case 'numeric':
      return numericConverter(typmod, options);
    case 'bytea':
      return byteaConverter(options);
    case 'date':
      return dateConverter(options);
    case 'time':
      return timeConverter(typmod, options);
    case 'timetz':
      return (text) => `${formatIsoTime(parseTimeTz(text))}Z`;
    case 'timestamp':
      return timestampConverter(typmod, options);
    case 'timestamptz':
      return timestamptzConverter(typmod);
    case 'interval':
      // 'infinity'/'-infinity' (Postgres 17+) have no duration form: passed through as strings.
      if (options['interval.handling.mode'] === 'string') return (text) => (isInfinite(text) ? text : intervalIso(parseInterval(text)));
      return (text) => (isInfinite(text) ? text : intervalMicros(parseInterval(text)));
    case 'bit':
      // bit(1) is a boolean like Debezium; bit(n>1)/varbit keep their '0101' text.
      return typmod === 1 ? (text) => text === '1' : identity;
    case 'hstore':
      return options['hstore.handling.mode'] === 'map' ? (text) => parseHstore(text) : (text) => JSON.stringify(parseHstore(text));
    case 'array':
      return arrayConverter(type, typmod, options);
    case 'text':
    case 'enum':
    case 'uuid':
    case 'json':
    case 'jsonb':
    case 'string':
      return identity;
  }
}

const cache = new WeakMap<ConvertOptions, WeakMap<ColumnType, Map<number, TextConverter>>>();

/**
 * The converter for non-NULL text of `type` (with the column's effective `typmod`) under `options`.
 * Cached per options object, type object and typmod: keep those objects stable.
 */
export function compileConverter(type: ColumnType, typmod: number, options: ConvertOptions): TextConverter {
  let byType = cache.get(options);
  if (!byType) {
    byType = new WeakMap();
    cache.set(options, byType);
  }
  let byTypmod = byType.get(type);
  if (!byTypmod) {
    byTypmod = new Map();
    byType.set(type, byTypmod);
  }
  let fn = byTypmod.get(typmod);
  if (!fn) {
    fn = build(type, typmod, options);
    byTypmod.set(typmod, fn);
  }
  return fn;
}
