/**
 * Initial snapshot, consistent with the slot: every captured table is read inside one REPEATABLE
 * READ transaction that imports the slot's exported snapshot (SET TRANSACTION SNAPSHOT), chunked by
 * primary key (keyset pagination, `snapshot.fetch.size` rows per query → bounded memory). Rows are
 * op 'r' with position (consistent point, ordinal), so streaming — which starts at the consistent
 * point — continues with no gap and no duplicate, and any later streamed change has a higher
 * version.
 *
 * Checkpoints: after each chunk, the Kafka transaction carrying the chunk also carries the offsets
 * record with `snapshot: {tables_done, table, last_key, next_seq}`.
 *
 * Resume after a crash mid-snapshot: the exported snapshot died with its replication connection,
 * so the remaining chunks are read in a FRESH snapshot (REPEATABLE READ, no import), starting after
 * the checkpointed key, still versioned at the original consistent point. Safe for sinks: the fresh
 * read may already contain changes committed after the consistent point, but every such change is
 * also streamed afterwards (the slot still starts at the consistent point) with a higher version,
 * in the same per-key order, so each key ends at the same final state. What a consumer may observe
 * is a row image "from the future" at version CP, followed by the streamed changes that lead to it
 * again. Rows of a table without a primary key cannot be resumed by key: that table restarts.
 */
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { formatLsn } from '../events/change.js';
import type { SnapshotMarker } from '../events/envelope.js';
import type { RawTuple } from '../events/types.js';
import type { SnapshotCheckpoint, StoredOffset } from '../kafka/offsets-store.js';
import type { TopicAdmin } from '../kafka/admin.js';
import { clientConfig, publishesGeneratedColumns, qualified, quoteIdent, quoteTable, type CapturedTable } from './connection.js';
import type { SourceConfig } from './config.js';
import type { OversizeGuard } from './oversize.js';
import type { Publisher } from './publisher.js';
import type { RecordBuilder } from './record-adapter.js';
import type { RawRelation } from './raw-change.js';
import type { RelationCache } from './relations.js';

export interface SnapshotDeps {
  readonly config: SourceConfig;
  readonly relations: RelationCache;
  readonly builder: RecordBuilder;
  readonly publisher: Publisher;
  /** Checks each event against its topic's size limit (event.oversize.handling.mode). */
  readonly guard: OversizeGuard;
  readonly admin: TopicAdmin;
  readonly logger: Logger;
  /**
   * Turns each checkpoint into the record written with its chunk (default: the source's own
   * offsets record). The table lifecycle writes its own record this way (table-lifecycle.ts).
   */
  readonly checkpointRecord?: (offset: StoredOffset) => StoredOffset;
}

export interface SnapshotProgress {
  table: string | null;
  rowsDone: number;
  rowsEstimated: number;
}

const rawTypes = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export class Snapshotter {
  readonly progress: SnapshotProgress = { table: null, rowsDone: 0, rowsEstimated: 0 };
  private stopped = false;
  /** The publication publishes stored generated columns (PG 18+); read once per snapshot. */
  private generated: boolean | undefined;

  constructor(private readonly deps: SnapshotDeps) {}

  stop(): void {
    this.stopped = true;
  }

  /**
   * Runs (or resumes) the snapshot. `snapshotName` is the exported snapshot (first run) or null
   * (resume in a fresh snapshot). Returns the seq of the last row written (-1 if none).
   */
  async run(tables: readonly CapturedTable[], consistentPoint: bigint, snapshotName: string | null, resume: SnapshotCheckpoint | null): Promise<number> {
    const { config, logger, publisher } = this.deps;
    const client = new pg.Client({ ...clientConfig(config), types: rawTypes, options: '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3' });
    // A server that goes away between queries (failover) fails the next query; not an unhandled 'error' event.
    client.on('error', () => undefined);
    await client.connect();
    const cp = formatLsn(consistentPoint);
    let seq = resume?.next_seq ?? 0;
    const done = new Set(resume?.tables_done ?? []);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshotName) await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "''")}'`);
      const est = await client.query<{ n: string }>(
        `SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint::text AS n FROM pg_class WHERE oid = ANY($1::oid[])`,
        [tables.map((t) => String(t.oid))],
      );
      this.progress.rowsEstimated = Number(est.rows[0]?.n ?? 0);
      logger.info({ tables: tables.length, consistentPoint: cp, resumed: resume !== null, estimatedRows: this.progress.rowsEstimated }, 'snapshot started');
      const started = Date.now();
      // Debezium's markers (SnapshotMarkerResolver): the snapshot's final row is `last` — here the last
      // row of the last table that has rows (emptiness judged in the same snapshot) —, its first row
      // `first` (the first row emitted by a fresh, not resumed, snapshot), else a table's last row
      // `last_in_data_collection`, its first `first_in_data_collection`, every other row `true`.
      let firstPending = resume === null;
      const pendingTables = tables.filter((t) => !done.has(qualified(t)));
      let lastWithRows: CapturedTable | undefined;
      for (const t of [...pendingTables].reverse()) {
        // (This client parses no types: test for a row, not for a boolean.)
        if ((await client.query(`SELECT 1 FROM ${quoteTable(t)} LIMIT 1`)).rows.length > 0) {
          lastWithRows = t;
          break;
        }
      }
      for (const t of tables) {
        const name = qualified(t);
        if (done.has(name)) continue;
        if (this.stopped) throw new Error('snapshot stopped');
        this.progress.table = name;
        const rel = await this.describe(client, t);
        const info = await this.deps.relations.update(rel);
        await this.deps.admin.ensureTopics([this.deps.builder.topicFor(info)]);
        const keys = t.keyColumns;
        let lastKey: readonly string[] | null = resume?.table === name && keys.length > 0 ? resume.last_key : null;
        // Invariant: each value is the type's text output, exactly what pgoutput sends when streaming
        // (this client parses no types). Not `col::text`: that is a cast, not the output function, for
        // some types (boolean::text is 'true', inet::text adds the netmask, char(n)::text drops padding).
        const cols = rel.columns.map((c) => `t.${quoteIdent(c.name)}`).join(', ');
        const keyIdx = keys.map((k) => rel.columns.findIndex((c) => c.name === k));
        // Qualified with the alias, so the order is the column's own, never an output column's.
        const order = keys.map((k) => `t.${quoteIdent(k)}`).join(', ');
        let tableRows = 0;
        let lastCtid: string | null = null;
        // a table resumed after its first chunk has no first row any more (keyless ones restart)
        let tableFirstPending = lastKey === null;
        for (;;) {
          const fetch = config['snapshot.fetch.size'];
          let rows: unknown[][];
          // One row more than the chunk, only to learn whether this chunk ends the table.
          if (keys.length > 0) {
            const where = lastKey ? `WHERE (${order}) > (${keys.map((_, i) => `$${i + 1}`).join(', ')})` : '';
            rows = (await client.query({ text: `SELECT ${cols} FROM ${quoteTable(t)} AS t ${where} ORDER BY ${order} LIMIT ${fetch + 1}`, values: lastKey ? [...lastKey] : [], rowMode: 'array' })).rows;
          } else {
            // No key: keyset on ctid. Within the one snapshot a visible row keeps its ctid, and
            // PG ≥ 14 reads `ctid > x` as a TID range scan. (OFFSET without an order could skip or
            // repeat rows: synchronized seq scans start mid-table.) Restarts from zero after a crash.
            const n = rel.columns.length;
            rows = (
              await client.query({
                text: `SELECT ${cols}, t.ctid::text FROM ${quoteTable(t)} AS t ${lastCtid ? 'WHERE t.ctid > $1::tid' : ''} ORDER BY t.ctid LIMIT ${fetch + 1}`,
                values: lastCtid ? [lastCtid] : [],
                rowMode: 'array',
              })
            ).rows;
            if (rows.length > 0) lastCtid = String((rows[Math.min(rows.length, fetch) - 1] as unknown[])[n]);
            for (const r of rows) r.length = n;
          }
          const endsTable = rows.length <= fetch;
          if (!endsTable) rows.length = fetch;
          if (rows.length === 0) break;
          const lastIndex = endsTable ? rows.length - 1 : -1;
          for (let i = 0; i < rows.length; i++) {
            const firstInTable = tableFirstPending && i === 0;
            const lastInTable = i === lastIndex;
            const marker: SnapshotMarker =
              lastInTable && t === lastWithRows ? 'last' : firstInTable && firstPending ? 'first' : lastInTable ? 'last_in_data_collection' : firstInTable ? 'first_in_data_collection' : 'true';
            firstPending = false;
            const after = rows[i] as RawTuple;
            const guard = this.deps.guard;
            const records = guard.check(this.deps.builder.build({
              op: 'r',
              relation: info,
              before: null,
              after,
              source: { position: { commitLsn: consistentPoint, seq }, xid: null, commitTimeMs: started, lsn: consistentPoint, snapshot: marker },
            }), info);
            seq++;
            await publisher.push(records, guard.lastBytes);
          }
          tableFirstPending = false;
          tableRows += rows.length;
          this.progress.rowsDone += rows.length;
          const last = rows[rows.length - 1]!;
          lastKey = keys.length > 0 ? keyIdx.map((i) => String(last[i])) : null;
          const checkpoint: SnapshotCheckpoint = { consistent_lsn: cp, tables_done: [...done], table: name, last_key: lastKey, next_seq: seq, completed: false };
          await publisher.endTransaction(this.record({ connector: config.name, last_commit_lsn: cp, last_seq: seq - 1, snapshot: checkpoint }), started);
          metrics.snapshotRowsDone.set({ pipeline: config.name, table: name }, tableRows);
          const secs = (Date.now() - started) / 1000;
          logger.info(
            { table: name, rowsDone: this.progress.rowsDone, estimated: this.progress.rowsEstimated, rate: Math.round(this.progress.rowsDone / Math.max(secs, 0.001)) },
            'snapshot progress',
          );
          if (endsTable) break;
        }
        done.add(name);
      }
      await client.query('COMMIT');
      const final: SnapshotCheckpoint = { consistent_lsn: cp, tables_done: [...done], table: null, last_key: null, next_seq: seq, completed: true };
      await publisher.endTransaction(this.record({ connector: config.name, last_commit_lsn: cp, last_seq: seq - 1, snapshot: final }), started);
      await publisher.flush();
      logger.info({ rows: this.progress.rowsDone, seconds: (Date.now() - started) / 1000 }, 'snapshot completed');
      this.progress.table = null;
      return seq - 1;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private record(offset: StoredOffset): StoredOffset {
    return this.deps.checkpointRecord ? this.deps.checkpointRecord(offset) : offset;
  }

  /**
   * Column list of a table in attribute order — the columns pgoutput sends: no dropped columns, and
   * generated columns only when the publication publishes them (PG 18+, stored ones).
   */
  private async describe(client: pg.Client, t: CapturedTable): Promise<RawRelation> {
    this.generated ??= await publishesGeneratedColumns(client, this.deps.config['publication.name']);
    const res = await client.query<{ name: string; typ: string; typmod: string }>(
      `SELECT attname AS name, atttypid::int AS typ, atttypmod AS typmod FROM pg_attribute
        WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND (attgenerated = '' OR (attgenerated = 's' AND $2)) ORDER BY attnum`,
      [t.oid, this.generated],
    );
    const keys = new Set(t.keyColumns);
    return {
      oid: t.oid,
      schema: t.schema,
      table: t.table,
      replicaIdentity: t.replicaIdentity,
      keyColumns: [...t.keyColumns],
      columns: res.rows.map((r) => ({ name: r.name, typeOid: Number(r.typ), typeMod: Number(r.typmod), isKey: keys.has(r.name) })),
    };
  }
}
