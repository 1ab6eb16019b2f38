/**
 * Per-relation row conversion: a raw positional tuple → a Debezium row object. The column
 * converters are resolved once per (relation shape, options) and cached; the hot path is a loop
 * over closures.
 */
import { UNAVAILABLE_VALUE, type JsonValue, type Row } from './change.js';
import type { ConvertOptions } from './config.js';
import { compileConverter, type TextConverter } from './convert/compile.js';
import { UNCHANGED_TOAST, effectiveTypmod, type RawTuple, type RawValue, type RelationInfo } from './types.js';

export type RowConverter = (tuple: RawTuple) => Row;

/** Converts one raw value with a precompiled converter (NULL → null, unchanged TOAST → placeholder). */
export function convertRaw(value: RawValue | undefined, convert: TextConverter): JsonValue {
  if (value === null || value === undefined) return null;
  if (value === UNCHANGED_TOAST) return UNAVAILABLE_VALUE;
  return convert(value);
}

/** The per-column converters of a relation, in column order. */
export function columnConverters(relation: RelationInfo, options: ConvertOptions): TextConverter[] {
  return relation.columns.map((c) => compileConverter(c.type, effectiveTypmod(c), options));
}

const cache = new WeakMap<ConvertOptions, WeakMap<RelationInfo, RowConverter>>();

export function compileRowConverter(relation: RelationInfo, options: ConvertOptions): RowConverter {
  let byRelation = cache.get(options);
  if (!byRelation) cache.set(options, (byRelation = new WeakMap()));
  const cached = byRelation.get(relation);
  if (cached) return cached;
  const names = relation.columns.map((c) => c.name);
  const converters = columnConverters(relation, options);
  const n = names.length;
  const fn: RowConverter = (tuple) => {
    if (tuple.length !== n) {
      throw new Error(
        `row of ${relation.schema}.${relation.table} has ${tuple.length} values but the relation has ${n} columns (stale relation description?)`,
      );
    }
    const row: Row = {};
    let i = 0;
    try {
      for (; i < n; i++) row[names[i] as string] = convertRaw(tuple[i], converters[i] as TextConverter);
    } catch (e) {
      const column = relation.columns[i];
      throw new Error(`cannot convert column ${relation.schema}.${relation.table}.${column?.name} (type ${column?.type.schema}.${column?.type.name}): ${(e as Error).message}`, {
        cause: e,
      });
    }
    return row;
  };
  byRelation.set(relation, fn);
  return fn;
}
