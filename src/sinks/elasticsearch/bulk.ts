/**
 * Bulk request body and response handling. The body is serialized here, not by the client, so the
 * external version (a bigint commit LSN) goes out as exact JSON integer digits: no precision is lost
 * even above 2^53.
 */
import { chunkBy, isTransientStatus } from '../kit/index.js';
import type { DocOp } from './plan.js';

function actionLine(op: DocOp): string {
  return (
    `{"${op.kind}":{"_index":${JSON.stringify(op.index)},"_id":${JSON.stringify(op.id)},` +
    `"version":${op.version.toString()},"version_type":"external_gte"}}\n`
  );
}

export function serializeOp(op: DocOp): string {
  if (op.kind === 'delete') return actionLine(op);
  if (!op.doc) throw new Error('internal: index op sent before its placeholders were resolved');
  return `${actionLine(op)}${JSON.stringify(op.doc)}\n`;
}

/** Splits ops into bulk bodies of at most `maxBytes` (an op bigger than that goes alone). */
export function chunkBodies(ops: readonly DocOp[], maxBytes: number): { ops: DocOp[]; body: string }[] {
  const serialized = ops.map((op) => ({ op, text: serializeOp(op) }));
  return chunkBy(serialized, { maxBytes }, (s) => Buffer.byteLength(s.text)).map((chunk) => ({ ops: chunk.map((s) => s.op), body: chunk.map((s) => s.text).join('') }));
}

/** One item of a bulk response, as kept by filter_path (status and error only). */
export interface BulkItemResult {
  readonly status: number;
  readonly error?: { readonly type?: string; readonly reason?: string | null; readonly caused_by?: { readonly type?: string; readonly reason?: string | null } };
}

export interface BulkResponseBody {
  readonly errors?: boolean;
  readonly items?: readonly Partial<Record<'index' | 'delete' | 'create' | 'update', BulkItemResult>>[];
}

export type ItemOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'stale' }
  | { readonly kind: 'retriable'; readonly message: string }
  | { readonly kind: 'rejected'; readonly message: string };

export function describeItemError(result: BulkItemResult): string {
  const error = result.error;
  if (!error) return `HTTP ${result.status}`;
  let text = `${error.type ?? 'error'}: ${error.reason ?? ''}`.trim();
  if (error.caused_by) text += ` (caused by ${error.caused_by.type ?? 'error'}: ${error.caused_by.reason ?? ''})`;
  return `${text} [status ${result.status}]`;
}

/**
 * 2xx → applied; delete 404 → nothing to delete (the versioned tombstone is still recorded);
 * 409 → the index holds an equal-or-newer version (stale replay, counted); 429 / 5xx → transient,
 * the batch is retried; any other 4xx (mapping conflict, illegal argument, …) → permanent, the
 * record is rejected to the error policy.
 */
export function classifyItem(kind: DocOp['kind'], result: BulkItemResult | undefined): ItemOutcome {
  if (!result) return { kind: 'retriable', message: 'bulk response has fewer items than the request' };
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 404 && kind === 'delete' && !result.error) return { kind: 'ok' };
  if (status === 409) return { kind: 'stale' };
  // The index (or the alias a rebuild swaps in) is missing for a moment: a rebuild's swap deletes the
  // old index and points the alias at the new generation, and a bulk in flight meanwhile gets 404
  // index_not_found. Retried, the batch lands in the new generation; taken as a rejection it stopped
  // the table for good (errors.tolerance none) and left the index stale after the swap. Retried, an
  // index deleted for good with action.auto_create_index off shows as this message, retrying.
  if (status === 404 && result.error?.type === 'index_not_found_exception') {
    return { kind: 'retriable', message: `${describeItemError(result)} — the index is missing (a rebuild swapping generations, or deleted with action.auto_create_index off: recreate it)` };
  }
  if (isTransientStatus(status)) return { kind: 'retriable', message: describeItemError(result) };
  return { kind: 'rejected', message: describeItemError(result) };
}

/**
 * A rejection because the index's mapping cannot take a value (typically after a column's type
 * changed in Postgres, e.g. integer → text under a mapping that declares the field a number): the
 * table, the field and a remedy, instead of Elasticsearch's parser message alone. Null for any other
 * rejection.
 */
export function explainMappingRejection(result: BulkItemResult, index: string, table: string | null): string | null {
  const type = result.error?.type;
  if (type !== 'mapper_parsing_exception' && type !== 'document_parsing_exception') return null;
  const reason = `${result.error?.reason ?? ''} ${result.error?.caused_by?.reason ?? ''}`;
  const field = /failed to parse field \[([^\]]+)\] of type \[([^\]]+)\]/.exec(reason);
  const preview = /Preview of field's value: '([^']*)'/.exec(reason)?.[1];
  const what = field
    ? `column (field) "${field[1]}": index ${index} maps it as ${field[2]} and cannot index the value${preview === undefined ? '' : ` '${preview}'`}`
    : `index ${index}'s mapping cannot take the document`;
  const quick =
    field && /^(long|integer|short|byte|double|float|half_float|scaled_float|unsigned_long|date|date_nanos|boolean|ip)$/.test(field[2]!)
      ? `either keep the field's type and let it skip values it cannot parse (PUT ${index}/_mapping {"properties":{"${field[1]}":{"type":"${field[2]}","ignore_malformed":true}}} — the value stays in _source), or `
      : '';
  return (
    `table ${table ?? '(unknown)'}, ${what} — did the column's type change in Postgres (e.g. ALTER COLUMN … TYPE text)? ` +
    `Remedy: ${quick}give the field a mapping that accepts the new values (table.overrides.<table>.index.mappings.file) and rebuild the index ` +
    `(create it with that mapping and _reindex the old one into it with "version_type": "external", or delete it and re-snapshot the table) ` +
    `[${describeItemError(result)}]`
  );
}

export function itemResults(body: BulkResponseBody, count: number): (BulkItemResult | undefined)[] {
  const items = body.items ?? [];
  const out: (BulkItemResult | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    const item = items[i];
    out.push(item ? (item.index ?? item.delete ?? item.create ?? item.update) : undefined);
  }
  return out;
}
