/**
 * numeric/decimal conversions for Debezium's `decimal.handling.mode`:
 *  - `string`: the exact text (Postgres never prints numeric in exponent form); NaN/±Infinity as text.
 *  - `double`: a JSON number (may round); NaN/±Infinity as the strings "NaN", "Infinity", "-Infinity".
 *  - `precise`: what Kafka Connect's JsonConverter writes for Debezium's precise mode —
 *    numeric(p,s) with a declared scale: org.apache.kafka.connect.data.Decimal, i.e. the base64 of
 *    the big-endian two's-complement unscaled value; numeric without a scale:
 *    io.debezium.data.VariableScaleDecimal, i.e. {"scale": n, "value": "<base64 unscaled>"}.
 *    NaN/±Infinity have no precise representation: null (use `string` mode to keep them).
 */
import type { JsonValue } from '../change.js';

/** Declared scale of numeric(p,s) from its typmod, or undefined for unconstrained numeric. */
export function numericScale(typmod: number): number | undefined {
  if (typmod < 4) return undefined;
  // PG 15+: scale is an 11-bit signed field (negative scales allowed).
  return (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
}

/** Declared precision of numeric(p,s) from its typmod, or undefined. */
export function numericPrecision(typmod: number): number | undefined {
  if (typmod < 4) return undefined;
  return ((typmod - 4) >> 16) & 0xffff;
}

export function isSpecialNumeric(text: string): boolean {
  const c = text.charCodeAt(text.length - 1);
  return c === 78 /* NaN */ || c === 121 /* Infinity */;
}

/** Minimal big-endian two's-complement bytes, like java.math.BigInteger#toByteArray. */
export function twosComplementBytes(v: bigint): Buffer {
  let n = 1;
  while (v >= 1n << BigInt(8 * n - 1) || v < -(1n << BigInt(8 * n - 1))) n++;
  const u = v < 0n ? v + (1n << BigInt(8 * n)) : v;
  return Buffer.from(u.toString(16).padStart(2 * n, '0'), 'hex');
}

/** Unscaled integer and scale of a numeric text; with `targetScale`, rescaled to it (exactly). */
export function unscaled(text: string, targetScale?: number): { value: bigint; scale: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`cannot parse numeric text "${text}"`);
  const neg = m[1] === '-';
  const frac = m[3] ?? '';
  let value = BigInt(`${m[2]}${frac}`);
  let scale = frac.length;
  if (targetScale !== undefined && targetScale !== scale) {
    if (targetScale > scale) {
      value *= 10n ** BigInt(targetScale - scale);
    } else {
      // Postgres already rounded to the column scale, so this division is exact.
      value /= 10n ** BigInt(scale - targetScale);
    }
    scale = targetScale;
  }
  return { value: neg ? -value : value, scale };
}

export function numericToDouble(text: string): JsonValue {
  if (isSpecialNumeric(text)) return text;
  return Number(text);
}

export function numericPrecise(text: string, scale: number | undefined): JsonValue {
  if (isSpecialNumeric(text)) return null;
  const u = unscaled(text, scale);
  const b64 = twosComplementBytes(u.value).toString('base64');
  return scale === undefined ? { scale: u.scale, value: b64 } : b64;
}
