/**
 * Key templates: `user:{id}`, `user:email:{email}`, `org:{org_id}:members`. A `{column}` placeholder
 * takes the column's value from the row; `{{` and `}}` are literal braces. A key whose column is
 * NULL, missing, or an unchanged-TOAST placeholder is not computed (nothing to invalidate there).
 */
import { didYouMean } from '../../spec/did-you-mean.js';
import { UNAVAILABLE_VALUE, type JsonValue, type Row } from '../../events/change.js';

export type TemplatePart = { readonly literal: string } | { readonly column: string };

export interface KeyTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  readonly columns: readonly string[];
  /** Literal text before the first placeholder (for SCAN patterns on truncate). */
  readonly prefix: string;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** Parses a template; throws a TemplateError naming the problem and its position. */
export function parseTemplate(source: string): KeyTemplate {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '{' && source[i + 1] === '{') {
      literal += '{';
      i += 2;
    } else if (ch === '}' && source[i + 1] === '}') {
      literal += '}';
      i += 2;
    } else if (ch === '{') {
      const end = source.indexOf('}', i + 1);
      if (end < 0) throw new TemplateError(`key template "${source}": "{" at position ${i} is never closed (write {column}, or {{ for a literal brace)`);
      const column = source.slice(i + 1, end);
      if (!COLUMN.test(column)) throw new TemplateError(`key template "${source}": "{${column}}" is not a column name (letters, digits, "_"; e.g. {id})`);
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ column });
      i = end + 1;
    } else if (ch === '}') {
      throw new TemplateError(`key template "${source}": "}" at position ${i} has no matching "{" (write }} for a literal brace)`);
    } else {
      literal += ch;
      i++;
    }
  }
  if (literal) parts.push({ literal });
  const columns = parts.flatMap((p) => ('column' in p ? [p.column] : []));
  if (columns.length === 0) throw new TemplateError(`key template "${source}" has no {column} placeholder, so every row would map to the same key`);
  const first = parts[0];
  const prefix = first && 'literal' in first ? first.literal : '';
  return { source, parts, columns, prefix };
}

function render(value: JsonValue): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The key for a row, or null when a column is NULL, missing or an unchanged-TOAST placeholder. */
export function renderKey(t: KeyTemplate, row: Row | null): string | null {
  if (!row) return null;
  let out = '';
  for (const part of t.parts) {
    if ('literal' in part) {
      out += part.literal;
      continue;
    }
    const v = row[part.column];
    if (v === undefined || v === null || v === UNAVAILABLE_VALUE) return null;
    out += render(v);
  }
  return out;
}

/**
 * Validates a table's templates, optionally against its column list (from the database). Returns
 * human-readable problems naming the table, the template and the column; empty when fine.
 */
export function validateTemplates(table: string, templates: readonly string[], columns?: readonly string[]): string[] {
  const problems: string[] = [];
  for (const source of templates) {
    let t: KeyTemplate;
    try {
      t = parseTemplate(source);
    } catch (e) {
      problems.push(`table ${table}: ${(e as Error).message}`);
      continue;
    }
    if (columns) {
      for (const c of t.columns) {
        if (columns.includes(c)) continue;
        const hint = didYouMean(c, columns);
        problems.push(`table ${table}: key template "${source}" uses unknown column "${c}"${hint ? `; did you mean "${hint}"?` : ''} (columns: ${columns.join(', ')})`);
      }
    }
  }
  return problems;
}
