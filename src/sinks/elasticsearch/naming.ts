/** Index names (template rendering + Elasticsearch's naming rules) and document ids from keys. */
import type { JsonValue, Row } from '../../events/change.js';
import { renderTemplate, TEMPLATE_NAMES, templateProblem } from '../../events/template.js';

export interface IndexNameVars {
  readonly prefix: string;
  readonly db: string;
  readonly schema: string;
  readonly table: string;
  readonly topic: string;
}

/** Renders `{prefix}.{schema}.{table}`-style templates (src/events/template.ts) and lower-cases the result. */
export function renderIndexName(template: string, vars: IndexNameVars): string | { error: string } {
  const problem = templateProblem(template, TEMPLATE_NAMES);
  if (problem) return { error: problem };
  return renderTemplate(template, { ...vars }).toLowerCase();
}

const FORBIDDEN = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];

/** Returns why `name` is not a valid Elasticsearch index name, or null when it is. */
export function validateIndexName(name: string): string | null {
  if (name.length === 0) return 'the index name is empty';
  if (name === '.' || name === '..') return `"${name}" is not allowed as an index name`;
  if (name !== name.toLowerCase()) return `"${name}" has upper-case letters; index names must be lower case`;
  const bad = FORBIDDEN.find((c) => name.includes(c));
  if (bad !== undefined) return `"${name}" contains "${bad}"; index names cannot contain \\ / * ? " < > | , # : or spaces`;
  if (/^[-_+]/.test(name)) return `"${name}" starts with "${name[0]}"; index names cannot start with -, _ or +`;
  if (Buffer.byteLength(name) > 255) return `"${name.slice(0, 40)}…" is longer than 255 bytes`;
  return null;
}

function valueText(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Document _id from the record key. A single-column key gives its value as a string; a composite
 * key joins its values (in key-column order) with `separator`, escaping `\` and the separator in
 * each value with a backslash, so two different keys never map to one _id.
 */
export function documentId(key: Row, separator: string): string {
  const values = Object.values(key);
  if (values.length === 1) return valueText(values[0] as JsonValue);
  return values
    .map((v) => valueText(v).replaceAll('\\', '\\\\').replaceAll(separator, `\\${separator}`))
    .join(separator);
}

/** Elasticsearch rejects _id values longer than 512 bytes. */
export const MAX_ID_BYTES = 512;
