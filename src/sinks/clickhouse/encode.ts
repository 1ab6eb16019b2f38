/**
 * Debezium JSON values → ClickHouse TabSeparated fields. The sink writes TSV because ClickHouse 18.16
 * has no JSONCompactEachRow, its JSONEachRow parser wants Decimals unquoted (JSON.stringify cannot
 * print an exact decimal unquoted) and Dates quoted, while TSV takes the exact text of every value on
 * every server version. Each encoder validates its value and throws `EncodeError` (the record is then
 * rejected with that message) instead of letting the server fail the whole INSERT.
 */
import type { JsonValue } from '../../events/change.js';
import { unwrapType, type SourceKind } from './types.js';

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

export const TSV_NULL = '\\N';

/** Escapes a string for a TabSeparated field. */
const NEEDS_ESCAPE = /[\\\t\n\r\0]/;

export function escapeTsv(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r\0]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0'));
}

/** Unescapes one TabSeparated field (as ClickHouse prints them). */
export function unescapeTsv(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' })[c] ?? c);
}

/** A ClickHouse single-quoted string literal (SQL and array elements). */
export function quoteString(s: string): string {
  return `'${s.replace(/[\\'\t\n\r\0]/g, (c) => (c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0'))}'`;
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  Int8: [-(2n ** 7n), 2n ** 7n - 1n], Int16: [-(2n ** 15n), 2n ** 15n - 1n], Int32: [-(2n ** 31n), 2n ** 31n - 1n], Int64: [-(2n ** 63n), 2n ** 63n - 1n],
  UInt8: [0n, 2n ** 8n - 1n], UInt16: [0n, 2n ** 16n - 1n], UInt32: [0n, 2n ** 32n - 1n], UInt64: [0n, 2n ** 64n - 1n],
};

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Epoch micros → `YYYY-MM-DD hh:mm:ss.ffffff` (UTC). */
export function microsToText(micros: number, fractionDigits = 6): string {
  if (!Number.isSafeInteger(micros)) throw new EncodeError(`timestamp ${micros} is not an integer number of microseconds`);
  const ms = Math.floor(micros / 1000);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new EncodeError(`timestamp ${micros} µs is out of range`);
  const frac = ((micros % 1_000_000) + 1_000_000) % 1_000_000;
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  return fractionDigits > 0 ? `${base}.${pad(frac, 6).slice(0, fractionDigits)}` : base;
}

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** ISO-8601 (Debezium ZonedTimestamp) → epoch micros. */
export function isoToMicros(text: string): number {
  const m = ISO.exec(text.trim());
  if (!m) throw new EncodeError(`"${text}" is not an ISO-8601 timestamp`);
  const frac = Number((m[3] ?? '').padEnd(6, '0').slice(0, 6));
  let zone = m[4] ?? 'Z';
  if (zone !== 'Z' && !zone.includes(':')) zone = zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) throw new EncodeError(`"${text}" is not a valid timestamp`);
  return ms * 1000 + frac;
}

function timestampMicros(v: JsonValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return /^-?\d+$/.test(v) ? Number(v) : isoToMicros(v);
  throw new EncodeError(`expected a timestamp (epoch micros or ISO string), got ${show(v)}`);
}

/** Days since epoch → `YYYY-MM-DD`. */
export function daysToDate(days: number): string {
  if (!Number.isInteger(days)) throw new EncodeError(`date ${days} is not a whole number of days`);
  const d = new Date(days * 86_400_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

interface Scalar {
  readonly text: string;
  /** Needs quoting inside an array literal. */
  readonly quoted: boolean;
}

function integer(base: string, v: JsonValue): Scalar {
  let text: string;
  if (typeof v === 'boolean') text = v ? '1' : '0';
  else if (typeof v === 'number' && Number.isInteger(v)) text = BigInt(v).toString();
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) text = BigInt(v).toString();
  else throw new EncodeError(`expected an integer for ${base}, got ${show(v)}`);
  const range = INT_RANGES[base];
  if (range && (BigInt(text) < range[0] || BigInt(text) > range[1])) throw new EncodeError(`${text} is out of range for ${base}`);
  return { text, quoted: false };
}

function float(base: string, v: JsonValue): Scalar {
  if (typeof v === 'number') return { text: String(v), quoted: false };
  if (v === 'NaN') return { text: 'nan', quoted: false };
  if (v === 'Infinity') return { text: 'inf', quoted: false };
  if (v === '-Infinity') return { text: '-inf', quoted: false };
  if (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return { text: v, quoted: false };
  throw new EncodeError(`expected a number for ${base}, got ${show(v)}`);
}

function decimal(base: string, v: JsonValue): Scalar {
  const m = /^Decimal(?:\d+)?\((\d+)(?:,\s*(\d+))?\)$/.exec(base);
  const p = Number(m?.[1] ?? 38);
  const s = Number(m?.[2] ?? 0);
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || !/^-?\d+(\.\d+)?$/.test(text)) throw new EncodeError(`expected an exact decimal for ${base}, got ${show(v)}`);
  const [intPart = '', frac = ''] = text.replace(/^-/, '').split('.');
  const intDigits = intPart.replace(/^0+/, '').length;
  const fracDigits = frac.replace(/0+$/, '').length;
  if (intDigits > p - s || fracDigits > s) throw new EncodeError(`${text} does not fit ${base} (precision ${p}, scale ${s})`);
  return { text, quoted: false };
}

function date(v: JsonValue): Scalar {
  let text: string;
  if (typeof v === 'number') text = daysToDate(v);
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) text = v;
  else throw new EncodeError(`expected a date (days since epoch or YYYY-MM-DD), got ${show(v)}`);
  if (text < '1970-01-01' || text > '2105-12-31') throw new EncodeError(`date ${text} is outside ClickHouse Date's range 1970-01-01..2105-12-31`);
  return { text, quoted: true };
}

function string(kind: SourceKind, v: JsonValue): Scalar {
  if (kind === 'timestamp' || kind === 'timestamptz') return { text: microsToText(timestampMicros(v)), quoted: true };
  if (kind === 'date' && typeof v === 'number') return { text: daysToDate(v), quoted: true };
  if (typeof v === 'string') return { text: v, quoted: true };
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v), quoted: true };
  return { text: JSON.stringify(v), quoted: true };
}

function scalar(base: string, kind: SourceKind, v: JsonValue): Scalar {
  if (/^U?Int\d+$/.test(base)) return integer(base, v);
  if (/^Float(32|64)$/.test(base)) return float(base, v);
  if (base.startsWith('Decimal')) return decimal(base, v);
  if (base === 'Date') return date(v);
  if (base.startsWith('DateTime64')) {
    const micros = timestampMicros(v);
    if (micros < -2_208_988_800_000_000) throw new EncodeError(`timestamp ${microsToText(micros)} is before 1900, outside DateTime64's range`);
    return { text: microsToText(micros), quoted: true };
  }
  if (base.startsWith('DateTime')) {
    const micros = timestampMicros(v);
    if (micros < 0 || micros >= 4_294_967_296_000_000) throw new EncodeError(`timestamp ${microsToText(micros)} is outside DateTime's range 1970..2106`);
    return { text: microsToText(micros, 0), quoted: true };
  }
  if (base === 'Bool') {
    if (typeof v !== 'boolean') throw new EncodeError(`expected a boolean, got ${show(v)}`);
    return { text: v ? 'true' : 'false', quoted: false };
  }
  return string(kind, v);
}

function element(type: string, kind: SourceKind, v: JsonValue): string {
  const { base, nullable } = unwrapType(type);
  if (v === null) {
    if (!nullable) throw new EncodeError(`NULL array element for non-nullable ${type}`);
    return 'NULL';
  }
  const arr = /^Array\((.*)\)$/.exec(base);
  if (arr?.[1]) {
    if (!Array.isArray(v)) throw new EncodeError(`expected an array for ${base}, got ${show(v)}`);
    const inner = arr[1];
    return `[${v.map((e) => element(inner, kind, e)).join(',')}]`;
  }
  const s = scalar(base, kind, v);
  return s.quoted ? quoteString(s.text) : s.text;
}

/** One TSV field (already escaped) for a value of a column of `chType`. */
export function encodeField(chType: string, kind: SourceKind, v: JsonValue | undefined): string {
  const { base, nullable } = unwrapType(chType);
  const arr = /^Array\((.*)\)$/.exec(base);
  if (v === null || v === undefined) {
    if (arr) return '[]';
    if (nullable) return TSV_NULL;
    throw new EncodeError(`NULL for non-nullable ${chType}`);
  }
  if (arr?.[1]) {
    if (!Array.isArray(v)) throw new EncodeError(`expected an array for ${base}, got ${show(v)}`);
    const inner = arr[1];
    // array text is not TSV-escaped again: quoted elements already escape \\, ', tab and newline
    return `[${v.map((e) => element(inner, kind, e)).join(',')}]`;
  }
  return escapeTsv(scalar(base, kind, v).text);
}

/** The TSV field of a type's default value (for columns a delete row does not know). */
export function defaultField(chType: string): string {
  const { base, nullable } = unwrapType(chType);
  if (nullable) return TSV_NULL;
  if (base.startsWith('Array')) return '[]';
  if (/^U?Int\d+$/.test(base) || /^Float/.test(base) || base.startsWith('Decimal')) return '0';
  if (base === 'Date') return '1970-01-01';
  if (base.startsWith('DateTime64')) return '1970-01-01 00:00:00.000000';
  if (base.startsWith('DateTime')) return '1970-01-01 00:00:00';
  if (base === 'Bool') return 'false';
  if (base === 'UUID') return '00000000-0000-0000-0000-000000000000';
  return '';
}

/** A SQL literal for a key value (for `WHERE (k…) IN (…)` lookups). */
export function sqlLiteral(chType: string, kind: SourceKind, v: JsonValue): string {
  const { base } = unwrapType(chType);
  if (v === null) return 'NULL';
  const s = scalar(base, kind, v);
  return s.quoted ? quoteString(s.text) : s.text;
}

const INT_FAST = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);
const compiled = new Map<string, (v: JsonValue | undefined) => string>();

/**
 * A memoized encoder for one column type: fast paths for the common cases (strings into String,
 * safe integers into Int*, numbers into Float*), everything else through `encodeField`.
 */
export function encoderFor(chType: string, kind: SourceKind): (v: JsonValue | undefined) => string {
  const id = `${kind}|${chType}`;
  let f = compiled.get(id);
  if (f) return f;
  const { base } = unwrapType(chType);
  const slow = (v: JsonValue | undefined): string => encodeField(chType, kind, v);
  if (base === 'String' && kind === 'other') f = (v) => (typeof v === 'string' ? escapeTsv(v) : slow(v));
  else if (INT_FAST.has(base)) {
    const range = INT_RANGES[base];
    const lo = range ? Number(range[0]) : 0;
    const hi = range ? Number(range[1]) : 0;
    f = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi ? String(v) : slow(v));
  } else if (base === 'Float64' || base === 'Float32') f = (v) => (typeof v === 'number' ? String(v) : slow(v));
  else f = slow;
  if (compiled.size < 10_000) compiled.set(id, f);
  return f;
}
