/**
 * Kafka message keys: a JSON object of the key columns, like Debezium.
 * Key columns: the `message.key.columns` entry matching the table, else RelationInfo.keyColumns
 * (primary key / replica-identity index). A table with neither gets a null key (Debezium does the
 * same for tables without a primary key, also with REPLICA IDENTITY FULL).
 */
import type { JsonValue, Row } from './change.js';
import type { TextConverter } from './convert/compile.js';
import type { KeyColumnsRule } from './key-columns.js';
import { convertRaw } from './row.js';
import { UNCHANGED_TOAST, type Column, type RawTuple, type RelationInfo } from './types.js';

// Parsed here, kept apart so events/config.ts can validate the setting without importing the row converters.
export { parseMessageKeyColumns, type KeyColumnsRule } from './key-columns.js';

/** Indices (into relation.columns) of the key columns, or null when the table gets a null key. */
export function keyColumnIndices(relation: RelationInfo, rules: readonly KeyColumnsRule[]): number[] | null {
  const qualified = `${relation.schema}.${relation.table}`;
  const rule = rules.find((r) => r.table.test(qualified));
  const names = rule ? rule.columns : relation.keyColumns;
  if (names.length === 0) return null;
  return names.map((name) => {
    const i = relation.columns.findIndex((c) => c.name === name);
    if (i < 0) {
      const known = relation.columns.map((c) => c.name).join(', ');
      throw new Error(
        rule
          ? `message.key.columns: table ${qualified} has no column "${name}" (columns: ${known}); fix the entry for this table`
          : `key column "${name}" of ${qualified} is not among its columns (${known})`,
      );
    }
    return i;
  });
}

export type KeyBuilder = (tuple: RawTuple, fallback?: RawTuple | null) => Row;

/**
 * A function building the key object from a tuple. An unchanged-TOAST key value is taken from
 * `fallback` (the old tuple) when that has it.
 */
export function compileKeyBuilder(columns: readonly Column[], indices: readonly number[], converters: readonly TextConverter[]): KeyBuilder {
  const names = indices.map((i) => (columns[i] as Column).name);
  const convs = indices.map((i) => converters[i] as TextConverter);
  return (tuple, fallback) => {
    const key: Record<string, JsonValue> = {};
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k] as number;
      let v = tuple[i];
      if (v === UNCHANGED_TOAST && fallback) v = fallback[i];
      key[names[k] as string] = convertRaw(v, convs[k] as TextConverter);
    }
    return key;
  };
}
