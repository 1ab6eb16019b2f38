/**
 * Value conversion: Postgres text output → Debezium JSON values. See compile.ts for the per-type
 * converters and the event-contract type table for the mapping.
 */
import { UNAVAILABLE_VALUE, type JsonValue } from '../change.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../config.js';
import { UNCHANGED_TOAST, type ColumnType, type RawValue } from '../types.js';
import { compileConverter } from './compile.js';

export { compileConverter, type TextConverter } from './compile.js';

/**
 * Converts one raw value. NULL → null; unchanged TOAST → the placeholder UNAVAILABLE_VALUE
 * (for every type, arrays included: a plain string). `typmod` defaults to the type's own.
 * For per-row work prefer compileRowConverter (record.ts), which resolves converters once.
 */
export function convertValue(text: RawValue, type: ColumnType, options: ConvertOptions = DEFAULT_CONVERT_OPTIONS, typmod = type.typmod): JsonValue {
  if (text === null) return null;
  if (text === UNCHANGED_TOAST) return UNAVAILABLE_VALUE;
  return compileConverter(type, typmod, options)(text);
}
