/**
 * The pure half of an upsert-table write (the sink's writeUpsert does the I/O around it):
 *   1. planKeys   — each record's old and new row key; which keys need their stored version read
 *                   (stale check) and which their stored row (unchanged-TOAST fill). Records without
 *                   a key value are refused here.
 *   2. planRows   — walks the records in offset order and turns them into rows to insert: deletes
 *                   are `_deleted = 1` rows, a key change is a delete of the old key + a row at the
 *                   new one, placeholders take the previous value (this batch, else the stored row;
 *                   none → the record is refused, never the placeholder nor a default written).
 *                   A record older than its table's truncate watermark (T3) or, with stale.check,
 *                   than a known version of one of its keys is skipped (staleSkipped). Then one row
 *                   per key: the kit's collapseLastPerKey (by version, last among equal versions —
 *                   one transaction keeps change order). Rows keep the order of their key's first
 *                   change — the order the sink used before this plan step — so a batch retried
 *                   across an upgrade builds the same chunks, with the same dedup tokens (the
 *                   token carries a digest of the chunk's changes, see ClickHouseSink.tokenBase).
 *   3. rowLines   — the rows as TSV lines (data columns, then META_COLUMNS).
 * Versions are the commit LSN (`_version`), the change's order in its transaction is `_seq`.
 */
import { type JsonValue, type Position, type Row } from '../../events/change.js';
import type { SinkRecord } from '../sink.js';
import { collapseLastPerKey, isStaleVersion, isUnchangedToast, previousToastValue } from '../kit/index.js';
import { EncodeError, defaultField, encodeField, encoderFor, escapeTsv, unescapeTsv } from './encode.js';
import type { UpsertTable } from './tables.js';

/** A record with its row keys (JSON of the decoded key fields). */
export interface KeyedRecord {
  readonly record: SinkRecord;
  /** The key this record removes: a delete's key, or the old key of an update that changed it. */
  readonly oldKey: string | null;
  /** The key this record writes (null for a delete). */
  readonly newKey: string | null;
  readonly oldRow: Row | null;
  readonly newRow: Row | null;
}

export interface KeyPlan {
  readonly records: KeyedRecord[];
  /** Keys whose stored version the stale check needs (updated/deleted keys not known yet), with a row holding their key. */
  readonly versionKeys: Map<string, Row>;
  /** Keys whose stored row an unchanged-TOAST placeholder needs, with a row holding their key. */
  readonly toastKeys: Map<string, Row>;
  readonly rejected: { record: SinkRecord; error: EncodeError }[];
}

/** Encoded key fields of a row, or null if a key column is missing. */
export function keyFields(u: UpsertTable, row: Row | null): string[] | null {
  if (!row) return null;
  const out: string[] = [];
  for (const k of u.keyColumns) {
    const v = row[k];
    const col = u.byName.get(k);
    if (v === undefined || v === null || !col) return null;
    out.push(encodeField(col.type, col.kind, v));
  }
  return out;
}

/** The key id of encoded key fields (also how stored rows read back are keyed). */
export function keyId(fields: readonly string[]): string {
  return JSON.stringify(fields.map(unescapeTsv));
}

/**
 * Step 1. `cachedVersion` is the sink's version cache (a key it knows needs no lookup; inserts are
 * never looked up).
 */
export function planKeys(u: UpsertTable, records: readonly SinkRecord[], cachedVersion: (key: string) => bigint | undefined): KeyPlan {
  const out: KeyedRecord[] = [];
  const rejected: { record: SinkRecord; error: EncodeError }[] = [];
  const versionKeys = new Map<string, Row>();
  const toastKeys = new Map<string, Row>();
  const seen = new Set<string>();
  for (const record of records) {
    try {
      const isDelete = record.op === 'd';
      const newRow = isDelete ? null : record.after;
      const oldRow = isDelete ? (record.before ?? record.key) : record.before;
      const nk = newRow ? keyFields(u, newRow) : null;
      const okFields = oldRow ? keyFields(u, oldRow) : null;
      const ok = okFields ? keyId(okFields) : null;
      const newKey = nk ? keyId(nk) : null;
      if (!isDelete && !newKey) throw new EncodeError(`record has no value for key column(s) ${u.keyColumns.join(', ')} in "after"`);
      if (isDelete && !ok) throw new EncodeError(`delete record has no value for key column(s) ${u.keyColumns.join(', ')}`);
      const oldKey = isDelete || (ok !== null && ok !== newKey) ? ok : null;
      out.push({ record, oldKey, newKey, oldRow, newRow });
      // look up stored versions of updated/deleted keys this sink has not seen (inserts are not looked up)
      if (oldKey && oldRow && !seen.has(oldKey) && cachedVersion(oldKey) === undefined) versionKeys.set(oldKey, oldRow);
      if (record.op === 'u' && newKey && newRow && !seen.has(newKey) && cachedVersion(newKey) === undefined) versionKeys.set(newKey, newRow);
      if (newRow && Object.values(newRow).some(isUnchangedToast)) {
        const from = oldKey ?? newKey;
        const fromRow = oldKey ? oldRow : newRow;
        if (from && fromRow && !seen.has(from)) toastKeys.set(from, fromRow);
      }
      if (oldKey) seen.add(oldKey);
      if (newKey) seen.add(newKey);
    } catch (e) {
      if (!(e instanceof EncodeError)) throw e;
      rejected.push({ record, error: e });
    }
  }
  return { records: out, versionKeys, toastKeys, rejected };
}

/** A stored row read back (FINAL): encoded TSV fields by data column. */
export interface StoredRow {
  readonly version: bigint;
  readonly deleted: boolean;
  readonly fields: Map<string, string>;
}

/** One row to insert. */
export interface UpsertRow {
  readonly key: string;
  /** Encoded TSV fields by column (data columns only). */
  readonly fields: Map<string, string>;
  readonly version: bigint;
  /** Ordinal of the change in its transaction (`_seq`). */
  readonly seq: number;
  readonly deleted: boolean;
  readonly op: string;
  readonly lsn: bigint;
  /** The record this row came from (rejected if the server refuses the row). */
  readonly record: SinkRecord;
}

export interface RowsContext {
  /** stale.check: skip changes older than a known version of their key. */
  readonly staleCheck: boolean;
  /** A key's version known outside this batch (the version cache, else the stored version read in step 1). */
  knownVersion(key: string): bigint | undefined;
  /** T3: true when a change at this position is older than the table's truncate watermark. */
  belowWatermark(position: Position): boolean;
  /** Stored rows of `toastKeys` (step 1). */
  readonly storedRows: ReadonlyMap<string, StoredRow>;
}

export interface RowsPlan {
  /** One row per key, in the order of each key's first change in the batch. */
  readonly rows: UpsertRow[];
  readonly rejected: { record: SinkRecord; error: EncodeError }[];
  readonly staleSkipped: number;
}

/** Step 2. */
export function planRows(u: UpsertTable, records: readonly KeyedRecord[], ctx: RowsContext): RowsPlan {
  const rejected: { record: SinkRecord; error: EncodeError }[] = [];
  let staleSkipped = 0;
  /** The key's latest row in this batch, by offset (previous value of its TOAST placeholders). */
  const latest = new Map<string, UpsertRow>();
  const emitted: UpsertRow[] = [];
  const isStale = (k: string | null, v: bigint): boolean => {
    if (!k || !ctx.staleCheck) return false;
    return isStaleVersion(v, latest.get(k)?.version ?? ctx.knownVersion(k));
  };
  const lsnOf = (r: SinkRecord): bigint => (typeof r.source?.lsn === 'number' ? BigInt(r.source.lsn) : r.position.commitLsn);
  const emit = (row: UpsertRow): void => {
    latest.set(row.key, row);
    emitted.push(row);
  };
  // One encoder per column for the whole batch (encoderFor memoizes by a type string it builds per call).
  const encoders = u.columns.map((col) => encoderFor(col.type, col.kind, col.mode, col.typedType));
  for (const p of records) {
    const v = p.record.position.commitLsn;
    try {
      // T3: older than the table's last truncate → it was removed by it (or would have been)
      if (ctx.belowWatermark(p.record.position) || isStale(p.oldKey, v) || isStale(p.newKey, v)) {
        staleSkipped++;
        continue;
      }
      let fields: Map<string, string> | undefined;
      if (p.newKey && p.newRow) {
        const prevKey = p.oldKey ?? p.newKey;
        const prev = latest.get(prevKey);
        const prevFields = prev && !prev.deleted ? prev.fields : (() => {
          const s = ctx.storedRows.get(prevKey);
          return s && !s.deleted ? s.fields : undefined;
        })();
        fields = new Map();
        for (let c = 0; c < u.columns.length; c++) {
          const col = u.columns[c]!;
          let value = p.newRow[col.source];
          // a renamed column: an older change carries the value under an earlier name
          for (let w = 0; value === undefined && w < col.was.length; w++) value = p.newRow[col.was[w]!];
          if (isUnchangedToast(value)) {
            const old = previousToastValue(col.name, prevFields);
            if (old instanceof Error) throw new EncodeError(old.message);
            fields.set(col.name, old);
          } else if (value === undefined) fields.set(col.name, col.defaultTsv ?? defaultField(col.type));
          else {
            try {
              fields.set(col.name, encoders[c]!(value));
            } catch (e) {
              if (e instanceof EncodeError) throw new EncodeError(`column ${col.name}: ${e.message}`, e.typeMismatch);
              throw e;
            }
          }
        }
      }
      if (p.oldKey && p.oldRow) {
        const keyOnly = new Map<string, string>();
        for (const k of u.keyColumns) {
          const col = u.byName.get(k);
          if (col) keyOnly.set(k, encodeField(col.type, col.kind, p.oldRow[k] as JsonValue));
        }
        emit({ key: p.oldKey, fields: keyOnly, version: v, seq: p.record.position.seq, deleted: true, op: p.record.op ?? 'd', lsn: lsnOf(p.record), record: p.record });
      }
      if (p.newKey && fields) emit({ key: p.newKey, fields, version: v, seq: p.record.position.seq, deleted: false, op: p.record.op ?? 'u', lsn: lsnOf(p.record), record: p.record });
    } catch (e) {
      if (!(e instanceof EncodeError)) throw e;
      rejected.push({ record: p.record, error: e });
    }
  }
  // one row per key (ReplacingMergeTree keeps the highest _version per key too)
  const { kept } = collapseLastPerKey(emitted, (row) => row.key, (row) => row.version);
  const keptByKey = new Map(kept.map((row) => [row.key, row]));
  // `latest` holds the keys in the order of their first change
  const rows = [...latest.keys()].map((k) => keptByKey.get(k)).filter((row): row is UpsertRow => row !== undefined);
  return { rows, rejected, staleSkipped };
}

/** Step 3: TSV lines (data columns, then _deleted, _version, _seq, _op, _lsn, _synced_at). */
export function rowLines(u: UpsertTable, rows: readonly UpsertRow[], syncedAt: string): { record: SinkRecord; line: string }[] {
  return rows.map((s) => ({
    record: s.record,
    line: [
      ...u.columns.map((c) => s.fields.get(c.name) ?? defaultField(c.type)),
      s.deleted ? '1' : '0',
      s.version.toString(),
      String(s.seq),
      escapeTsv(s.op),
      s.lsn.toString(),
      syncedAt,
    ].join('\t'),
  }));
}
