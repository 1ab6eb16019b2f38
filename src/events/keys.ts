/**
 * Kafka message keys: a JSON object of the key columns, like Debezium.
 * Key columns: the `message.key.columns` entry matching the table, else RelationInfo.keyColumns
 * (primary key / replica-identity index). A table with neither gets a null key (Debezium does the
 * same for tables without a primary key, also with REPLICA IDENTITY FULL).
 */
import type { JsonValue, Row } from './change.js';
import type { TextConverter } from './convert/compile.js';
import { convertRaw } from './row.js';
import { UNCHANGED_TOAST, type Column, type RawTuple, type RelationInfo } from './types.js';

export interface KeyColumnsRule {
  /** Anchored regular expression over `<schema>.<table>`. */
  readonly table: RegExp;
  readonly columns: readonly string[];
}

/**
 * Parses Debezium's `message.key.columns`: `<table regex>:<col>[,<col>…]` entries separated by
 * `;`, e.g. `public.orders:tenant_id,id;inventory\..*:uuid`.
 */
export function parseMessageKeyColumns(spec: string): KeyColumnsRule[] {
  const rules: KeyColumnsRule[] = [];
  for (const raw of spec.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    if (colon <= 0 || colon === entry.length - 1) {
      throw new Error(`message.key.columns: entry "${entry}" must look like "<schema>.<table>:<column>[,<column>…]", e.g. "public.orders:id"`);
    }
    const tablePart = entry.slice(0, colon).trim();
    const columns = entry
      .slice(colon + 1)
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    if (columns.length === 0) throw new Error(`message.key.columns: entry "${entry}" lists no column after ":"`);
    let table: RegExp;
    try {
      table = new RegExp(`^(?:${tablePart})$`);
    } catch (e) {
      throw new Error(`message.key.columns: "${tablePart}" is not a valid regular expression (${(e as Error).message})`);
    }
    rules.push({ table, columns });
  }
  return rules;
}

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
