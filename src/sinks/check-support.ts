/**
 * Helpers the sinks' online checks share (src/sinks/<type>/check.ts): columns a setting names that
 * the captured table does not have, with a did-you-mean.
 */
import type { CheckPath, Finding, SourceCatalogView } from '../check/online.js';
import { didYouMean } from '../spec/did-you-mean.js';

/**
 * One error per column in `columns` that `table` lacks; `what` names the setting, e.g.
 * `key template "user:{nme}"`. Nothing when the catalog is unknown or the table is missing (the
 * table itself is reported by the orchestrator).
 */
export function unknownColumns(catalog: SourceCatalogView | null, table: string, columns: readonly string[], path: CheckPath, what: string, fix: string): Finding[] {
  const t = catalog?.relations.get(table);
  if (!t) return [];
  const have = t.columns.map((c) => c.name);
  return [...new Set(columns)]
    .filter((c) => !have.includes(c))
    .map((c) => {
      const hint = didYouMean(c, have);
      return {
        severity: 'error' as const,
        path,
        message: `${what} names column "${c}", which ${table} does not have${hint ? `; did you mean "${hint}"?` : ''} (columns: ${have.join(', ')})`,
        fix,
      };
    });
}
