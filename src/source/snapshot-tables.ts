/**
 * Per-table snapshot progress, kept by the components that snapshot (Snapshotter for the initial
 * snapshot, tables added while streaming and ad-hoc snapshots) and read by status. This is the
 * source of truth for `source.snapshot[]` of GET /pipelines; the Prometheus gauges
 * (cdc_fanout_snapshot_rows_done/_estimated) are exported from the same values, never read back.
 */

export interface TableSnapshotStatus {
  /** Qualified table name (`schema.table`). */
  readonly table: string;
  /** Rows published by this run of the table's snapshot (a resumed table counts from its resume). */
  readonly rowsDone: number;
  /** pg_class.reltuples when the table's snapshot began; null when Postgres has no estimate (never analyzed). */
  readonly rowsEstimated: number | null;
  readonly finished: boolean;
}

export class SnapshotTables {
  private readonly tables = new Map<string, TableSnapshotStatus>();

  /** A table's snapshot starts (or resumes): its count restarts for this run. */
  begin(table: string, rowsEstimated: number | null): void {
    this.tables.set(table, { table, rowsDone: 0, rowsEstimated, finished: false });
  }

  /** Rows of `table` published so far by this run. */
  rows(table: string, rowsDone: number): void {
    const t = this.tables.get(table);
    if (t) this.tables.set(table, { ...t, rowsDone });
  }

  finish(table: string): void {
    const t = this.tables.get(table);
    if (t) this.tables.set(table, { ...t, finished: true });
  }

  /**
   * Forgets tables whose run did not finish (the source that ran it stopped or failed): a restarted
   * source begins them again if it resumes them, and otherwise they would show as running forever.
   */
  dropUnfinished(): void {
    for (const [k, t] of this.tables) if (!t.finished) this.tables.delete(k);
  }

  /** In the order the tables began. */
  list(): readonly TableSnapshotStatus[] {
    return [...this.tables.values()];
  }
}
