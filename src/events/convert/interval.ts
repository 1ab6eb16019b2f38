/**
 * Postgres `interval` text (IntervalStyle `postgres`, the server default:
 * `1 year 2 mons -3 days -04:05:06.5`) → Debezium MicroDuration micros or ISO-8601 string.
 */

/** Debezium's MicroDuration month approximation: 365.25 / 12 = 30.4375 days = 2 629 800 s. */
export const SECONDS_PER_MONTH_AVG = 2_629_800;

export interface ParsedInterval {
  years: number;
  months: number;
  days: number;
  hours: number;
  minutes: number;
  /** Whole seconds of the time part (signed like it). */
  seconds: number;
  /** Microsecond remainder of the time part (signed like it). */
  micros: number;
}

function bad(text: string): Error {
  return new Error(
    `cannot parse Postgres interval text "${text}" (expected IntervalStyle=postgres output such as "1 year 2 mons 3 days 04:05:06"; set IntervalStyle=postgres for the replication session)`,
  );
}

function parseTimeToken(token: string, out: ParsedInterval, text: string): void {
  const m = /^([+-]?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/.exec(token);
  if (!m) throw bad(text);
  const sign = m[1] === '-' ? -1 : 1;
  out.hours = sign * Number(m[2]);
  out.minutes = sign * Number(m[3]);
  out.seconds = sign * Number(m[4]);
  out.micros = m[5] ? sign * Number(m[5].padEnd(6, '0')) : 0;
}

export function parseInterval(text: string): ParsedInterval {
  const out: ParsedInterval = { years: 0, months: 0, days: 0, hours: 0, minutes: 0, seconds: 0, micros: 0 };
  const tokens = text.split(' ');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token.includes(':')) {
      parseTimeToken(token, out, text);
      continue;
    }
    const unit = tokens[++i];
    if (!/^[+-]?\d+$/.test(token) || unit === undefined) throw bad(text);
    const n = Number(token);
    switch (unit) {
      case 'year':
      case 'years':
        out.years = n;
        break;
      case 'mon':
      case 'mons':
        out.months = n;
        break;
      case 'day':
      case 'days':
        out.days = n;
        break;
      default:
        throw bad(text);
    }
  }
  return out;
}

/**
 * Total microseconds like Debezium's MicroDuration (a month counts 30.4375 days). Exact integer
 * arithmetic; a decimal string when beyond ±2^53.
 */
export function intervalMicros(p: ParsedInterval): number | string {
  const seconds = (p.years * 12 + p.months) * SECONDS_PER_MONTH_AVG + p.days * 86_400 + p.hours * 3600 + p.minutes * 60 + p.seconds;
  const micros = seconds * 1_000_000 + p.micros;
  if (Number.isSafeInteger(micros) && Math.abs(seconds) < 9_000_000_000) return micros;
  return (BigInt(seconds) * 1_000_000n + BigInt(p.micros)).toString();
}

/** ISO-8601 like Debezium's `interval.handling.mode=string`: `P1Y2M-3DT-4H-5M-6.5S` (every component printed). */
export function intervalIso(p: ParsedInterval): string {
  let seconds: string;
  if (p.micros === 0) {
    seconds = String(p.seconds);
  } else {
    const neg = p.seconds < 0 || p.micros < 0;
    let frac = String(Math.abs(p.micros)).padStart(6, '0');
    while (frac.endsWith('0')) frac = frac.slice(0, -1);
    seconds = `${neg ? '-' : ''}${Math.abs(p.seconds)}.${frac}`;
  }
  return `P${p.years}Y${p.months}M${p.days}DT${p.hours}H${p.minutes}M${seconds}S`;
}
