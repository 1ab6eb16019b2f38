/**
 * Exact parsing of Postgres date/time text output (DateStyle ISO) without going through JS Date:
 * microseconds are kept exactly, BC years and years beyond 9999 are handled, any UTC offset
 * (+05:30, -08, +05:53:28 for historic local mean time) is applied.
 */

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_DAY = 86_400_000_000;
/** Largest |days| for which days * MICROS_PER_DAY + micros-of-day stays a safe integer. */
const SAFE_DAYS = Math.floor((Number.MAX_SAFE_INTEGER - MICROS_PER_DAY) / MICROS_PER_DAY);

/** Days since 1970-01-01 of a proleptic-Gregorian date (astronomical year: 1 BC = 0). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil: [astronomical year, month, day]. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function bad(kind: string, text: string): Error {
  return new Error(`cannot parse Postgres ${kind} text "${text}" (expected ISO DateStyle output, e.g. the server's default; set DateStyle=ISO for the replication session)`);
}

function digits(text: string, from: number, to: number, kind: string): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) throw bad(kind, text);
    n = n * 10 + c;
  }
  return n;
}

/** A parsed date: days since epoch, plus where the date part ended in the text. */
interface DatePart {
  days: number;
  year: number;
  month: number;
  day: number;
  end: number;
}

function parseDatePart(text: string, kind: string, bc: boolean): DatePart {
  const dash = text.indexOf('-', 1);
  if (dash < 4 || text.charCodeAt(dash + 3) !== 45) throw bad(kind, text);
  const yearDigits = digits(text, 0, dash, kind);
  const month = digits(text, dash + 1, dash + 3, kind);
  const day = digits(text, dash + 4, dash + 6, kind);
  if (month < 1 || month > 12 || day < 1 || day > 31) throw bad(kind, text);
  const year = bc ? 1 - yearDigits : yearDigits;
  return { days: daysFromCivil(year, month, day), year, month, day, end: dash + 6 };
}

/** Time of day parsed from `HH:MM:SS[.ffffff]` at `from`: micros of day and where it ended. */
interface TimePart {
  micros: number;
  end: number;
}

function parseTimePart(text: string, from: number, kind: string): TimePart {
  if (text.charCodeAt(from + 2) !== 58 || text.charCodeAt(from + 5) !== 58) throw bad(kind, text);
  const h = digits(text, from, from + 2, kind);
  const m = digits(text, from + 3, from + 5, kind);
  const s = digits(text, from + 6, from + 8, kind);
  let micros = ((h * 60 + m) * 60 + s) * MICROS_PER_SECOND;
  let end = from + 8;
  if (text.charCodeAt(end) === 46) {
    let i = end + 1;
    let frac = 0;
    let scale = 100_000;
    while (i < text.length) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (scale >= 1) frac += c * scale;
      scale /= 10;
      i++;
    }
    if (i === end + 1) throw bad(kind, text);
    micros += frac;
    end = i;
  }
  return { micros, end };
}

/** Parses `+HH`, `-HH:MM`, `+HH:MM:SS` at `from` into seconds east of UTC. */
function parseOffset(text: string, from: number, kind: string): { seconds: number; end: number } {
  const sign = text.charCodeAt(from);
  if (sign !== 43 && sign !== 45) throw bad(kind, text);
  let seconds = digits(text, from + 1, from + 3, kind) * 3600;
  let end = from + 3;
  if (text.charCodeAt(end) === 58) {
    seconds += digits(text, end + 1, end + 3, kind) * 60;
    end += 3;
    if (text.charCodeAt(end) === 58) {
      seconds += digits(text, end + 1, end + 3, kind);
      end += 3;
    }
  }
  return { seconds: sign === 45 ? -seconds : seconds, end };
}

function endsWithBc(text: string): boolean {
  return text.length > 3 && text.charCodeAt(text.length - 1) === 67 && text.endsWith(' BC');
}

/** `days * MICROS_PER_DAY + micros` exactly: a number when safe, else a decimal string. */
export function epochMicros(days: number, microsOfDay: number): number | string {
  if (days <= SAFE_DAYS && days >= -SAFE_DAYS) return days * MICROS_PER_DAY + microsOfDay;
  return (BigInt(days) * BigInt(MICROS_PER_DAY) + BigInt(microsOfDay)).toString();
}

export type Infinite = 'infinity' | '-infinity';

/** Parses `date` text into days since epoch; 'infinity' / '-infinity' are returned as such. */
export function parseDate(text: string): number | Infinite {
  if (text === 'infinity' || text === '-infinity') return text;
  const bc = endsWithBc(text);
  const d = parseDatePart(text, 'date', bc);
  if (d.end !== (bc ? text.length - 3 : text.length)) throw bad('date', text);
  return d.days;
}

export interface ParsedTimestamp {
  /** Days since epoch (UTC for timestamptz). */
  days: number;
  /** Microseconds into that day, 0 ≤ micros < MICROS_PER_DAY. */
  micros: number;
}

/**
 * Parses `timestamp` / `timestamptz` text (`2024-01-02 03:04:05.123456[+05:30][ BC]`). With an
 * offset, the result is normalised to UTC.
 */
export function parseTimestamp(text: string): ParsedTimestamp | Infinite {
  if (text === 'infinity' || text === '-infinity') return text;
  const kind = 'timestamp';
  const bc = endsWithBc(text);
  const end = bc ? text.length - 3 : text.length;
  const d = parseDatePart(text, kind, bc);
  if (text.charCodeAt(d.end) !== 32) throw bad(kind, text);
  const t = parseTimePart(text, d.end + 1, kind);
  let days = d.days;
  let micros = t.micros;
  if (t.end < end) {
    const off = parseOffset(text, t.end, kind);
    if (off.end !== end) throw bad(kind, text);
    micros -= off.seconds * MICROS_PER_SECOND;
    if (micros < 0) {
      const shift = Math.ceil(-micros / MICROS_PER_DAY);
      days -= shift;
      micros += shift * MICROS_PER_DAY;
    } else if (micros >= MICROS_PER_DAY) {
      const shift = Math.floor(micros / MICROS_PER_DAY);
      days += shift;
      micros -= shift * MICROS_PER_DAY;
    }
  } else if (t.end !== end) {
    throw bad(kind, text);
  }
  return { days, micros };
}

/** Parses `time` text into micros since midnight (24:00:00 → 86 400 000 000). */
export function parseTime(text: string): number {
  const t = parseTimePart(text, 0, 'time');
  if (t.end !== text.length) throw bad('time', text);
  return t.micros;
}

/** Parses `timetz` text into micros since midnight in UTC (wrapped into [0, 24h)). */
export function parseTimeTz(text: string): number {
  const t = parseTimePart(text, 0, 'timetz');
  const off = parseOffset(text, t.end, 'timetz');
  if (off.end !== text.length) throw bad('timetz', text);
  const utc = (t.micros - off.seconds * MICROS_PER_SECOND) % MICROS_PER_DAY;
  return utc < 0 ? utc + MICROS_PER_DAY : utc;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Year the way java.time's ISO formatter prints it: 4 digits, `+` above 9999, `-` below 0. */
export function formatIsoYear(year: number): string {
  const abs = Math.abs(year);
  const body = abs < 10 ? `000${abs}` : abs < 100 ? `00${abs}` : abs < 1000 ? `0${abs}` : `${abs}`;
  if (year < 0) return `-${body}`;
  return year > 9999 ? `+${body}` : body;
}

/** `HH:MM:SS[.fraction]` with trailing zeros of the fraction removed (java.time ISO style). */
export function formatIsoTime(microsOfDay: number): string {
  const totalSeconds = Math.floor(microsOfDay / MICROS_PER_SECOND);
  const frac = microsOfDay - totalSeconds * MICROS_PER_SECOND;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const base = `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  if (frac === 0) return base;
  let f = String(frac).padStart(6, '0');
  while (f.charCodeAt(f.length - 1) === 48) f = f.slice(0, -1);
  return `${base}.${f}`;
}

/** `YYYY-MM-DD` of days since epoch (ISO years: 1 BC is 0000, 2 BC is -0001). */
export function formatIsoDate(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${formatIsoYear(y)}-${pad2(m)}-${pad2(d)}`;
}

/** `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` of a UTC instant (Debezium ZonedTimestamp format). */
export function formatIsoInstant(days: number, microsOfDay: number, fractionDigits = 0): string {
  if (fractionDigits <= 0) return `${formatIsoDate(days)}T${formatIsoTime(microsOfDay)}Z`;
  // exactly `fractionDigits` digits (1..6), zeros kept: the value has no more (Postgres rounds to the column's precision)
  const seconds = Math.floor(microsOfDay / MICROS_PER_SECOND);
  const frac = String(microsOfDay - seconds * MICROS_PER_SECOND).padStart(6, '0').slice(0, fractionDigits);
  return `${formatIsoDate(days)}T${formatIsoTime(seconds * MICROS_PER_SECOND)}.${frac}Z`;
}
