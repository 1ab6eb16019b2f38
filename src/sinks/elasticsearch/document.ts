/** Builds the Elasticsearch document of a change: `after` projected, renamed, plus optional `source`. */
import type { JsonValue, Row } from '../../events/change.js';
import { fillToast, isUnchangedToast } from '../kit/index.js';
import type { SourceInfo } from '../sink.js';

export type Doc = Record<string, JsonValue>;

export interface FieldRules {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly rename?: Readonly<Record<string, string>>;
}

export interface BuiltDoc {
  readonly doc: Doc;
  /** Document fields (after rename) whose value is the unchanged-TOAST placeholder. */
  readonly placeholders: readonly string[];
}

/**
 * `before`, when it carries the column (REPLICA IDENTITY FULL), is the row's previous version: its
 * value replaces an unchanged-TOAST placeholder directly, with no read of the stored document.
 */
export function buildDocument(after: Row, rules: FieldRules, sourceField: string | undefined, source: SourceInfo | null, before: Row | null = null): BuiltDoc {
  const doc: Doc = {};
  const placeholders: string[] = [];
  const include = rules.include ? new Set(rules.include) : undefined;
  const exclude = rules.exclude ? new Set(rules.exclude) : undefined;
  for (const [column, value] of Object.entries(after)) {
    if (include && !include.has(column)) continue;
    if (exclude?.has(column)) continue;
    const field = rules.rename?.[column] ?? column;
    doc[field] = value;
    if (isUnchangedToast(value)) {
      const old = before?.[column];
      if (old !== undefined && !isUnchangedToast(old)) doc[field] = old;
      else placeholders.push(field);
    }
  }
  if (sourceField !== undefined && source) doc[sourceField] = source as unknown as JsonValue;
  return { doc, placeholders };
}

/**
 * Replaces placeholder fields with the values of `previous` (the document's preceding version);
 * a field the previous version does not have is dropped rather than written as the placeholder.
 */
export function fillPlaceholders(built: BuiltDoc, previous: Doc | null): Doc {
  return fillToast(built.doc, built.placeholders, previous);
}
