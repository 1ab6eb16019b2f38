/**
 * Turns one partition batch into Elasticsearch operations, in offset order:
 *   c / u / r → `index` at the key's _id;  d → `delete`;  u whose key changed → `delete` at the old
 *   _id, then `index` at the new one;  t → a truncate step (or nothing, per truncate.mode);
 *   tombstones (op null) and logical messages (m) → nothing.
 * Records that can never be written (no key, an index name Elasticsearch refuses, …) are rejected
 * here, before any request. Every operation carries version = position.commitLsn (see README
 * "Guarantees": it grows with every change of a row, equal inside one transaction).
 */
import type { Row } from '../../events/change.js';
import type { RejectedRecord, SinkRecord } from '../sink.js';
import { collapseLastPerKey, sinkVersion } from '../kit/index.js';
import { buildDocument, fillPlaceholders, type BuiltDoc, type Doc, type FieldRules } from './document.js';
import { MAX_ID_BYTES, documentId } from './naming.js';

/** Largest external version Elasticsearch accepts (a Java long): the kit's. */
export { MAX_VERSION } from '../kit/index.js';

export interface IndexOp {
  readonly kind: 'index';
  readonly index: string;
  readonly id: string;
  readonly version: bigint;
  readonly built: BuiltDoc;
  /** _id of the document whose stored values replace unchanged-TOAST placeholders (old _id on a key change). */
  readonly fillFrom: string;
  /** The document to send, placeholders resolved (set by resolvePlaceholders). */
  doc?: Doc;
  readonly record: SinkRecord;
}

export interface DeleteOp {
  readonly kind: 'delete';
  readonly index: string;
  readonly id: string;
  readonly version: bigint;
  readonly record: SinkRecord;
  /** On a key change: the index op at the new _id, which takes its TOAST values from this old _id. */
  readonly movedTo?: IndexOp;
}

export type DocOp = IndexOp | DeleteOp;

export type Step =
  | { readonly kind: 'ops'; readonly ops: DocOp[] }
  | { readonly kind: 'truncate'; readonly index: string; readonly version: bigint; readonly record: SinkRecord };

export interface Plan {
  readonly steps: Step[];
  readonly rejected: RejectedRecord[];
}

export interface PlanContext {
  /** Index of a record's table, or why there can be none. */
  indexFor(record: SinkRecord): string | Error;
  readonly idSeparator: string;
  fieldRules(table: string): FieldRules;
  readonly sourceField: string | undefined;
  readonly truncateMode: 'delete' | 'ignore';
}

export function opKey(index: string, id: string): string {
  return `${index}\u0000${id}`;
}

/** Key columns of `key` taken from `row`; null when `row` lacks one of them. */
function keyFrom(key: Row, row: Row | null): Row | null {
  if (!row) return null;
  const out: Row = {};
  for (const column of Object.keys(key)) {
    const value = row[column];
    if (value === undefined) return null;
    out[column] = value;
  }
  return out;
}

function checkedId(key: Row, separator: string): string {
  const id = documentId(key, separator);
  if (id.length === 0) throw new Error('the record key gives an empty document _id');
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new Error(`the document _id from the key is longer than ${MAX_ID_BYTES} bytes`);
  return id;
}

export function planBatch(records: readonly SinkRecord[], ctx: PlanContext): Plan {
  const steps: Step[] = [];
  const rejected: RejectedRecord[] = [];
  let current: DocOp[] = [];
  const flush = (): void => {
    if (current.length > 0) steps.push({ kind: 'ops', ops: current });
    current = [];
  };

  for (const record of records) {
    if (record.op === null || record.op === 'm') continue;
    try {
      const version = sinkVersion(record.position);
      const index = ctx.indexFor(record);
      if (index instanceof Error) throw index;

      if (record.op === 't') {
        if (ctx.truncateMode === 'delete') {
          flush();
          steps.push({ kind: 'truncate', index, version, record });
        }
        continue;
      }
      if (!record.key || Object.keys(record.key).length === 0) {
        throw new Error('the record has no key (table without primary key?); the Elasticsearch sink needs a key for the document _id');
      }
      const id = checkedId(record.key, ctx.idSeparator);

      if (record.op === 'd') {
        const oldKey = keyFrom(record.key, record.before);
        current.push({ kind: 'delete', index, id: oldKey ? checkedId(oldKey, ctx.idSeparator) : id, version, record });
        continue;
      }
      if (!record.after) throw new Error(`op "${record.op}" without an "after" row`);
      const table = `${record.source?.schema ?? ''}.${record.source?.table ?? ''}`;
      const built = buildDocument(record.after, ctx.fieldRules(table), ctx.sourceField, record.source, record.op === 'u' ? record.before : null);
      const oldKey = record.op === 'u' ? keyFrom(record.key, record.before) : null;
      const oldId = oldKey ? checkedId(oldKey, ctx.idSeparator) : id;
      const indexOp: IndexOp = { kind: 'index', index, id, version, built, fillFrom: oldId, record };
      if (oldId !== id) current.push({ kind: 'delete', index, id: oldId, version, record, movedTo: indexOp });
      current.push(indexOp);
    } catch (error) {
      rejected.push({ record, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  flush();
  return { steps, rejected };
}

/**
 * Unchanged-TOAST placeholders. External versioning rules out a partial `update` (it cannot carry
 * an external version), so an index op whose `after` holds placeholders is completed with the
 * values of the document's preceding version, then indexed whole with its own version:
 *   - the preceding version is the previous op on that _id in this batch when there is one
 *     (changes of a row stay in one partition and a batch is in offset order);
 *   - otherwise it is the stored document, read (mget) before any op of the batch is sent. It is
 *     the previous version because every earlier offset of the partition has been applied before
 *     this batch (the runtime commits offsets only after write succeeded). On a replay the stored
 *     document may already be this version or newer: filling from it gives the same values, or the
 *     write is refused as stale anyway.
 *   - a key change (PK update) fills from the old _id; after a delete or a truncate, or when no
 *     stored document exists, placeholder fields are left out rather than written.
 * `fetch` receives the keys to read and returns what is stored (null = no document).
 */
export async function resolvePlaceholders(
  steps: readonly Step[],
  fetch: (keys: readonly { index: string; id: string }[]) => Promise<Map<string, Doc | null>>,
): Promise<void> {
  const needed = new Map<string, { index: string; id: string }>();
  {
    const seen = new Set<string>();
    const truncated = new Set<string>();
    for (const step of steps) {
      if (step.kind === 'truncate') {
        truncated.add(step.index);
        continue;
      }
      for (const op of step.ops) {
        // The doc to fill from is read where it stands: for a key change, at the delete of the old _id.
        const filler = op.kind === 'index' ? (op.fillFrom === op.id ? op : undefined) : op.movedTo;
        if (filler && filler.built.placeholders.length > 0) {
          const from = opKey(op.index, op.id);
          if (!seen.has(from) && !truncated.has(op.index)) needed.set(from, { index: op.index, id: op.id });
        }
        seen.add(opKey(op.index, op.id));
      }
    }
  }
  const stored = needed.size > 0 ? await fetch([...needed.values()]) : new Map<string, Doc | null>();

  const state = new Map<string, Doc | null>();
  const truncated = new Set<string>();
  const lookup = (index: string, id: string): Doc | null => {
    const key = opKey(index, id);
    if (state.has(key)) return state.get(key) ?? null;
    return truncated.has(index) ? null : (stored.get(key) ?? null);
  };
  const moved = new Map<IndexOp, Doc | null>();
  for (const step of steps) {
    if (step.kind === 'truncate') {
      for (const key of [...state.keys()]) if (key.startsWith(`${step.index}\u0000`)) state.delete(key);
      truncated.add(step.index);
      continue;
    }
    for (const op of step.ops) {
      const key = opKey(op.index, op.id);
      if (op.kind === 'delete') {
        if (op.movedTo) moved.set(op.movedTo, lookup(op.index, op.id));
        state.set(key, null);
        continue;
      }
      if (op.built.placeholders.length === 0) {
        op.doc = op.built.doc;
      } else {
        const previous = moved.has(op) ? (moved.get(op) ?? null) : lookup(op.index, op.fillFrom);
        op.doc = fillPlaceholders(op.built, previous);
      }
      state.set(key, op.doc);
    }
  }
}

/**
 * Keeps only the newest op per document of a step, in their original order (the kit's
 * collapseLastPerKey, keyed by index and _id, by version: see its invariant — offset order is NOT
 * version order). Safe because every op carries its version and `index` replaces the whole
 * document. Returns the kept ops and, per kept op, the ones it superseded (needed to fall back when
 * the kept op is rejected).
 */
export function collapse(ops: readonly DocOp[]): { kept: DocOp[]; superseded: Map<DocOp, DocOp[]> } {
  return collapseLastPerKey(ops, (op) => opKey(op.index, op.id), (op) => op.version);
}
