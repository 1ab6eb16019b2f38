/**
 * Which ClickHouse column type changes follow a widened source column without losing a stored
 * value (schema evolution, `schema.evolution: basic`): the sink runs `ALTER TABLE … MODIFY COLUMN`
 * for these when the source catalog shows a wider type than the column has.
 *
 *   Int8 → Int16 → Int32 → Int64      (smallint → integer → bigint)
 *   Float32 → Float64                  (real → double precision)
 *   Decimal(p,s) → Decimal(p',s')      when s' ≥ s and p'−s' ≥ p−s (numeric precision/scale grown)
 *   Int*, Float*, Decimal → String     (a number column that became text: the stored numbers read as their text)
 *   Array(Nullable(T)) → Array(Nullable(T')) when T → T' is one of the above
 * The column keeps its own nullability. Anything else (narrowing, text → int, date → …) is not a
 * widening: records that do not fit are rejected per the error policy, with the reason.
 * varchar(n) → varchar(m) and text need nothing: they are String already.
 */
import { unwrapType } from './types.js';

const INT_RANK: Record<string, number> = { Int8: 1, Int16: 2, Int32: 3, Int64: 4 };
const DECIMAL = /^Decimal\((\d+),\s*(\d+)\)$/;

function baseWidens(from: string, to: string): boolean {
  if (from === to) return false;
  const fi = INT_RANK[from];
  const ti = INT_RANK[to];
  if (fi !== undefined && ti !== undefined) return ti > fi;
  if (from === 'Float32' && to === 'Float64') return true;
  const fd = DECIMAL.exec(from);
  const td = DECIMAL.exec(to);
  if (fd && td) {
    const [p, s, p2, s2] = [Number(fd[1]), Number(fd[2]), Number(td[1]), Number(td[2])];
    return s2 >= s && p2 - s2 >= p - s && (p2 !== p || s2 !== s);
  }
  if (to === 'String') return fi !== undefined || from === 'Float32' || from === 'Float64' || fd !== null;
  const fa = /^Array\(Nullable\((.*)\)\)$/.exec(from);
  const ta = /^Array\(Nullable\((.*)\)\)$/.exec(to);
  if (fa?.[1] && ta?.[1]) return baseWidens(fa[1], ta[1]);
  return false;
}

/**
 * The type to MODIFY the column to when `target` (the type the sink would create for the source
 * column now) widens `current` (the column's type), keeping the column's nullability; else null.
 */
export function widenedType(current: string, target: string): string | null {
  const cur = unwrapType(current);
  const tgt = unwrapType(target);
  if (!baseWidens(cur.base, tgt.base)) return null;
  return cur.nullable ? `Nullable(${tgt.base})` : tgt.base;
}
