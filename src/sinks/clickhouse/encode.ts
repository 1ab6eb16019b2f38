/**
 * Debezium JSON values → ClickHouse TabSeparated fields. The sink writes TSV because ClickHouse 18.16
 * has no JSONCompactEachRow, its JSONEachRow parser wants Decimals unquoted (JSON.stringify cannot
 * print an exact decimal unquoted) and Dates quoted, while TSV takes the exact text of every value on
 * every server version. Each encoder validates its value and throws `EncodeError` (the record is then
 * rejected with that message) instead of letting the server fail the whole INSERT.
 */
import type { JsonValue } from '../../events/change.js';
import {
  DATE_NEGATIVE_INFINITY,
  DATE_POSITIVE_INFINITY,
  TIMESTAMP_NEGATIVE_INFINITY,
  TIMESTAMP_NEGATIVE_INFINITY_MS,
  TIMESTAMP_POSITIVE_INFINITY,
  TIMESTAMP_POSITIVE_INFINITY_MS,
} from '../../events/convert/compile.js';
import { unwrapType, type SourceKind } from './types.js';

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  /**
   * True when the value has the wrong *shape* for the column (e.g. text in an Int32 column): the source
   * column's type probably changed, and the hint is to ALTER the ClickHouse column. False for a value of
   * the right shape that the column's range cannot hold (the hint is the `__raw` companion column).
   */
  constructor(message: string, readonly typeMismatch = true) {
    super(message);
  }
}

/**
 * How a column's encoder treats a value the ClickHouse type cannot hold (year 0001 in a Date, NaN in
 * a Decimal, `infinity` in a DateTime64):
 * - `strict`: reject the record (EncodeError) — a typed column without a companion;
 * - `typed`: write the type's "no value" (NULL, or the default when not Nullable) — the typed column of
 *   a pair whose `__raw` companion holds the exact text;
 * - `raw`: the companion: NULL when the typed column holds the value, else the exact text.
 */
export type EncodeMode = 'strict' | 'typed' | 'raw';

/** Suffix of the companion String column of a range-limited typed column (see types.ts). */
export const RAW_SUFFIX = '__raw';

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

const DAY_US = 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

/** Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
function civilFromDays(days: bigint): [bigint, number, number] {
  const z = days + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = Number(doy - (153n * mp + 2n) / 5n + 1n);
  const m = Number(mp < 10n ? mp + 3n : mp - 9n);
  return [yoe + era * 400n + (m <= 2 ? 1n : 0n), m, d];
}

function daysFromCivil(y: bigint, m: number, d: number): bigint {
  const yy = m <= 2 ? y - 1n : y;
  const era = floorDiv(yy, 400n);
  const yoe = yy - era * 400n;
  const mm = BigInt(m > 2 ? m - 3 : m + 9);
  const doy = (153n * mm + 2n) / 5n + BigInt(d) - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146_097n + doe - 719_468n;
}

/** ISO-8601 year: 4 digits for 0000–9999, else signed (`-0043` = 44 BC, `+10000`), like java.time. */
function isoYear(y: bigint): string {
  if (y >= 0n && y <= 9999n) return y.toString().padStart(4, '0');
  return (y < 0n ? '-' : '+') + (y < 0n ? -y : y).toString().padStart(4, '0');
}

function dateText(days: bigint): string {
  const [y, m, d] = civilFromDays(days);
  return `${isoYear(y)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** Epoch micros → `YYYY-MM-DD hh:mm:ss.ffffff` (UTC), exact for any year (BigInt, never via JS Date). */
export function microsToText(micros: number | bigint, fractionDigits = 6): string {
  if (typeof micros === 'number' && !Number.isInteger(micros)) throw new EncodeError(`timestamp ${micros} is not an integer number of microseconds`);
  const us = BigInt(micros);
  const days = floorDiv(us, DAY_US);
  const rem = Number(us - days * DAY_US);
  const secs = Math.floor(rem / 1_000_000);
  const frac = rem % 1_000_000;
  const base = `${dateText(days)} ${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}`;
  return fractionDigits > 0 ? `${base}.${pad(frac, 6).slice(0, fractionDigits)}` : base;
}

const ISO = /^([+-]?\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/;

/** ISO-8601 (Debezium ZonedTimestamp, any year incl. `-0043`/`+10000`) → epoch micros, exact. */
export function isoToMicrosBig(text: string): bigint {
  const m = ISO.exec(text.trim());
  if (!m) throw new EncodeError(`"${text}" is not an ISO-8601 timestamp`);
  const [, y = '', mo = '', d = '', h = '', mi = '', sec = '', fracText = '', zone = 'Z'] = m;
  const frac = BigInt((fracText ?? '').padEnd(6, '0').slice(0, 6));
  let offsetSecs = 0;
  if (zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?:?(\d{2})?$/.exec(zone);
    if (!z) throw new EncodeError(`"${text}" has an invalid UTC offset`);
    offsetSecs = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 3600 + Number(z[3] ?? 0) * 60 + Number(z[4] ?? 0));
  }
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 24 || Number(mi) > 59 || Number(sec) > 60) {
    throw new EncodeError(`"${text}" is not a valid timestamp`);
  }
  const days = daysFromCivil(BigInt(y), Number(mo), Number(d));
  const secs = days * 86_400n + BigInt(Number(h) * 3600 + Number(mi) * 60 + Number(sec) - offsetSecs);
  return secs * 1_000_000n + frac;
}

/** ISO-8601 → epoch micros as a number (must be a safe integer). */
export function isoToMicros(text: string): number {
  const us = isoToMicrosBig(text);
  if (us > BigInt(Number.MAX_SAFE_INTEGER) || us < BigInt(Number.MIN_SAFE_INTEGER)) throw new EncodeError(`"${text}" is beyond ±2^53 microseconds`, false);
  return Number(us);
}

type Instant = bigint | 'infinity' | '-infinity';

/**
 * A timestamp value as the source emits it → epoch micros or ±infinity: epoch micros (or millis for
 * `timestamp-ms` columns, Debezium `Timestamp`) as a number or, beyond 2^53, a decimal string;
 * Debezium's ±infinity sentinels; ISO strings (timestamptz, `time.precision.mode: isostring`).
 */
function instantOf(kind: SourceKind, v: JsonValue): Instant {
  const scale = kind === 'timestamp-ms' ? 1000n : 1n;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new EncodeError(`timestamp ${v} is not an integer number of ${scale === 1n ? 'microseconds' : 'milliseconds'}`);
    return BigInt(v) * scale;
  }
  if (typeof v === 'string') {
    const [pos, neg] = scale === 1n ? [TIMESTAMP_POSITIVE_INFINITY, TIMESTAMP_NEGATIVE_INFINITY] : [TIMESTAMP_POSITIVE_INFINITY_MS, TIMESTAMP_NEGATIVE_INFINITY_MS];
    if (v === pos || v === 'infinity') return 'infinity';
    if (v === neg || v === '-infinity') return '-infinity';
    if (/^-?\d+$/.test(v)) return BigInt(v) * scale;
    return isoToMicrosBig(v);
  }
  throw new EncodeError(`expected a timestamp (epoch micros or ISO string), got ${show(v)}`);
}

/** A date value (days since epoch, ±infinity as the int32 bounds, or ISO text) → days or ±infinity. */
function dayOf(v: JsonValue): Instant {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new EncodeError(`date ${v} is not a whole number of days`);
    if (v === DATE_POSITIVE_INFINITY) return 'infinity';
    if (v === DATE_NEGATIVE_INFINITY) return '-infinity';
    return BigInt(v);
  }
  if (v === 'infinity' || v === '-infinity') return v;
  if (typeof v === 'string') {
    const m = /^([+-]?\d{4,})-(\d{2})-(\d{2})$/.exec(v);
    if (m) return daysFromCivil(BigInt(m[1] ?? '0'), Number(m[2]), Number(m[3]));
  }
  throw new EncodeError(`expected a date (days since epoch or YYYY-MM-DD), got ${show(v)}`);
}

/** Canonical text of a timestamp: `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) or `infinity` / `-infinity`. */
function instantText(i: Instant): string {
  return typeof i === 'bigint' ? microsToText(i) : i;
}

/** Days since epoch → `YYYY-MM-DD`. */
export function daysToDate(days: number): string {
  if (!Number.isInteger(days)) throw new EncodeError(`date ${days} is not a whole number of days`);
  return dateText(BigInt(days));
}

// Ranges the typed columns hold on every server version the sink supports (DateTime64 is
// 1925-01-01..2283-11-11 before 22.8 and 1900..2299 since: the narrower one is used).
// 1970-01-01 is day 0, which 18.16 prints as the "zero date" 0000-00-00.
const DATE_MIN = '1970-01-02';
const DATE_MAX = '2105-12-31';
const DT64_MIN = daysFromCivil(1925n, 1, 1) * DAY_US;
const DT64_MAX = daysFromCivil(2283n, 11, 11) * DAY_US + DAY_US - 1n;
const DT_MAX = 4_294_967_295n * 1_000_000n;

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
  if (range && (BigInt(text) < range[0] || BigInt(text) > range[1])) throw new EncodeError(`${text} is out of range for ${base}`, false);
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
  if (intDigits > p - s || fracDigits > s) throw new EncodeError(`${text} does not fit ${base} (precision ${p}, scale ${s})`, false);
  return { text, quoted: false };
}

/** Marker: the value has the right shape but the typed column cannot hold it. */
class OutOfRange {
  constructor(readonly why: string) {}
}

function date(v: JsonValue): Scalar | OutOfRange {
  const d = dayOf(v);
  if (typeof d !== 'bigint') return new OutOfRange(`date ${d} has no ClickHouse Date value`);
  const text = dateText(d);
  if (text < DATE_MIN || text > DATE_MAX || text.length !== 10) return new OutOfRange(`date ${text} is outside ClickHouse Date's range ${DATE_MIN}..${DATE_MAX}`);
  return { text, quoted: true };
}

function string(kind: SourceKind, v: JsonValue): Scalar {
  if (kind === 'timestamp' || kind === 'timestamp-ms' || kind === 'timestamptz') return { text: instantText(instantOf(kind, v)), quoted: true };
  if (kind === 'date') {
    const d = dayOf(v);
    return { text: typeof d === 'bigint' ? dateText(d) : d, quoted: true };
  }
  if (typeof v === 'string') return { text: v, quoted: true };
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v), quoted: true };
  return { text: JSON.stringify(v), quoted: true };
}

function decimalOrRange(base: string, v: JsonValue): Scalar | OutOfRange {
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return new OutOfRange(`${v} has no ${base} value`);
  try {
    return decimal(base, v);
  } catch (e) {
    if (e instanceof EncodeError && !e.typeMismatch) return new OutOfRange(e.message);
    throw e;
  }
}

function instantScalar(base: string, kind: SourceKind, v: JsonValue): Scalar | OutOfRange {
  const i = instantOf(kind === 'date' ? 'timestamp' : kind, v);
  if (typeof i !== 'bigint') return new OutOfRange(`timestamp ${i} has no ${base} value`);
  if (base.startsWith('DateTime64')) {
    if (i < DT64_MIN || i > DT64_MAX) return new OutOfRange(`timestamp ${microsToText(i)} is outside DateTime64's range 1925-01-01..2283-11-11`);
    return { text: microsToText(i), quoted: true };
  }
  if (i < 0n || i > DT_MAX) return new OutOfRange(`timestamp ${microsToText(i)} is outside DateTime's range 1970..2106`);
  return { text: microsToText(i, 0), quoted: true };
}

/** A scalar, or OutOfRange for a well-shaped value the (range-limited) type cannot hold. */
function scalarOrRange(base: string, kind: SourceKind, v: JsonValue): Scalar | OutOfRange {
  if (/^U?Int\d+$/.test(base)) return integer(base, v);
  if (/^Float(32|64)$/.test(base)) return float(base, v);
  if (base.startsWith('Decimal')) return decimalOrRange(base, v);
  if (base === 'Date') return date(v);
  if (base.startsWith('DateTime')) return instantScalar(base, kind, v);
  if (base === 'Bool') {
    if (typeof v !== 'boolean') throw new EncodeError(`expected a boolean, got ${show(v)}`);
    return { text: v ? 'true' : 'false', quoted: false };
  }
  return string(kind, v);
}

function scalar(base: string, kind: SourceKind, v: JsonValue): Scalar {
  const s = scalarOrRange(base, kind, v);
  if (s instanceof OutOfRange) throw new EncodeError(s.why, false);
  return s;
}

/** The exact text of a value for a `__raw` companion column (canonical for dates/timestamps). */
export function rawText(kind: SourceKind, v: JsonValue): string {
  try {
    return string(kind, v).text;
  } catch (e) {
    if (!(e instanceof EncodeError)) throw e;
    return typeof v === 'string' ? v : JSON.stringify(v);
  }
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

/** One TSV field (already escaped) for a value of a column of `chType` (strict: rejects what it cannot hold). */
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

/**
 * Whether every ClickHouse version parses the shortest decimal text of `n` to exactly `n`. 18.16's
 * float parser is not correctly rounded (4.500643473222406e-178 → …064e-178, 5e-324 → 0); it is exact
 * on Clinger's fast path: at most 15 significant digits and a decimal exponent within ±22 (both the
 * integer mantissa and the power of ten are exact doubles, one rounding; Float32: 7 digits, ±10, as it
 * parses in single precision: -1.0244164e+24 → -1.02441644e24). Other values also go to the
 * `__raw` companion of a float column.
 */
export function parsedExactly(n: number, float32 = false): boolean {
  if (!Number.isFinite(n) || n === 0) return true;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(n)));
  if (!m) return false;
  const int = m[1] ?? '';
  const frac = m[2] ?? '';
  const digits = (int + frac).replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  const exp = Number(m[3] ?? 0) - frac.length + (digits.length - trimmed.length);
  // Float32 is parsed in single precision: mantissa < 2^24 (7 digits) and 10^|exp| exact in it (≤ 10)
  return float32 ? trimmed.length <= 7 && Math.abs(exp) <= 10 : trimmed.length <= 15 && Math.abs(exp) <= 22;
}

/** The strict encoding, or undefined when the column cannot hold the value. */
function strictOr(chType: string, kind: SourceKind, v: JsonValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  try {
    return encodeField(chType, kind, v);
  } catch (e) {
    if (e instanceof EncodeError) return undefined;
    throw e;
  }
}

/**
 * The typed column of a (typed, `__raw`) pair: the value when the type holds it, else NULL (or the
 * type's default when the column is not Nullable) — the companion then carries the exact text.
 */
function encodeTyped(chType: string, kind: SourceKind, v: JsonValue | undefined): string {
  const { base, nullable } = unwrapType(chType);
  if (base.startsWith('Array(')) return strictOr(chType, kind, v) ?? '[]';
  const none = nullable ? TSV_NULL : defaultField(chType);
  if (v === null || v === undefined) return none;
  try {
    const s = scalarOrRange(base, kind, v);
    return s instanceof OutOfRange ? none : escapeTsv(s.text);
  } catch (e) {
    if (e instanceof EncodeError) return none;
    throw e;
  }
}

/** The `__raw` companion of a typed column of `typedType`: NULL when the typed column holds the value, else its exact text. */
function encodeRaw(typedType: string, kind: SourceKind, v: JsonValue | undefined): string {
  const { base } = unwrapType(typedType);
  if (base.startsWith('Array(')) {
    // arrays: the JSON text when the typed column cannot hold the value (multi-dimensional, an
    // element out of range) or it is SQL NULL (an Array column has no NULL: typed shows [])
    if (v === null || v === undefined) return 'null';
    return strictOr(typedType, kind, v) === undefined ? escapeTsv(JSON.stringify(v)) : TSV_NULL;
  }
  if (v === null || v === undefined) return TSV_NULL;
  if (/^Float(32|64)$/.test(base)) return typeof v === 'number' && !parsedExactly(v, base === 'Float32') ? String(v) : TSV_NULL;
  try {
    if (!(scalarOrRange(base, kind, v) instanceof OutOfRange)) return TSV_NULL;
  } catch (e) {
    if (!(e instanceof EncodeError)) throw e;
  }
  return escapeTsv(rawText(kind, v));
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
 * A memoized encoder for one column: fast paths for the common cases (strings into String, safe
 * integers into Int*, numbers into Float*), everything else through `encodeField`. `mode` (see
 * EncodeMode): `typed` / `raw` for the two columns of a pair, `raw` needing the typed column's type.
 * Invariant: in `typed` and `raw` mode an encoder never throws for any JSON value, so a value the
 * source emits is never rejected, and `raw` ?? `typed` recovers it.
 */
export function encoderFor(chType: string, kind: SourceKind, mode: EncodeMode = 'strict', typedType = ''): (v: JsonValue | undefined) => string {
  const id = `${mode}|${kind}|${chType}|${typedType}`;
  let f = compiled.get(id);
  if (f) return f;
  const { base } = unwrapType(chType);
  const slow = (v: JsonValue | undefined): string => encodeField(chType, kind, v);
  if (mode === 'typed') f = (v) => encodeTyped(chType, kind, v);
  else if (mode === 'raw') f = (v) => encodeRaw(typedType, kind, v);
  else if (base === 'String' && kind === 'other') f = (v) => (typeof v === 'string' ? escapeTsv(v) : slow(v));
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
