/**
 * Unchanged-TOAST values. Postgres does not send a large (TOASTed) column an UPDATE left unchanged
 * unless the table has REPLICA IDENTITY FULL; Debezium puts a placeholder there
 * (`__debezium_unavailable_value`; base64 or hex of it for bytea, a one-element array for arrays).
 * INVARIANT: a sink never stores the placeholder as the value. It fills the column from the row's
 * previous version (the `before` image when it carries the column, the same key earlier in the
 * batch, or the stored row), and leaves the column out — or refuses the record — when there is none.
 */
import { UNAVAILABLE_VALUE, type JsonValue, type Row } from '../../events/change.js';

const UNAVAILABLE_BASE64 = Buffer.from(UNAVAILABLE_VALUE).toString('base64');
const UNAVAILABLE_HEX = Buffer.from(UNAVAILABLE_VALUE).toString('hex');

/** True for Debezium's unchanged-TOAST placeholder in any of its shapes (text, bytea, array). */
export function isUnchangedToast(value: JsonValue | undefined): boolean {
  if (value === UNAVAILABLE_VALUE || value === UNAVAILABLE_BASE64 || value === UNAVAILABLE_HEX) return true;
  return Array.isArray(value) && value.length === 1 && value[0] === UNAVAILABLE_VALUE;
}

/** Columns of `row` holding the placeholder, in column order. */
export function toastColumns(row: Row): string[] {
  return Object.keys(row).filter((c) => isUnchangedToast(row[c]));
}

/**
 * `row` with each of `columns` taken from `previous` (the row's preceding version); a column the
 * previous version does not have (or holds as a placeholder too) is left out rather than written
 * as the placeholder. Returns `row` itself when there is nothing to fill.
 */
export function fillToast<T extends Record<string, JsonValue>>(row: T, columns: readonly string[], previous: Readonly<Record<string, JsonValue>> | null): T {
  if (columns.length === 0) return row;
  const out: Record<string, JsonValue> = { ...row };
  for (const c of columns) {
    const old = previous?.[c];
    if (old === undefined || isUnchangedToast(old)) delete out[c];
    else out[c] = old;
  }
  return out as T;
}

/**
 * For a target that writes whole rows (leaving a column out would write its default — silent
 * loss): the placeholder column's value from the row's previous version, or an error saying how
 * to make Postgres send the value. The caller refuses the record with it (error policy / DLQ).
 */
export function previousToastValue<V>(column: string, previous: ReadonlyMap<string, V> | undefined): V | Error {
  const old = previous?.get(column);
  if (old !== undefined) return old;
  return new Error(`column ${column} is an unchanged TOAST value (${UNAVAILABLE_VALUE}) and no previous state of this row is stored; set REPLICA IDENTITY FULL on the source table or re-snapshot it`);
}
