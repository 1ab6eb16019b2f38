/**
 * Transaction metadata (provide.transaction.metadata=true), like Debezium: the envelope's
 * transaction block {id, total_order, data_collection_order} and BEGIN/END records on the
 * transaction topic with per-table event counts.
 */
import type { TransactionBlock } from './envelope.js';

export interface TransactionStart {
  readonly xid: number;
  /** Commit LSN of the transaction. */
  readonly commitLsn: bigint;
  /**
   * LSN of the transaction's first record (the LSN pgoutput's Begin message arrives with): the
   * `<lsn>` of the id `"<xid>:<lsn>"`, as Debezium forms it. The commit LSN when not known.
   */
  readonly beginLsn?: bigint;
  readonly commitTimeMs: number;
}

export interface TransactionValue {
  status: 'BEGIN' | 'END';
  id: string;
  event_count: number | null;
  data_collections: { data_collection: string; event_count: number }[] | null;
  ts_ms: number;
}

/** Counts the events of the open transaction. One per source; not shared across threads. */
export class TransactionTracker {
  private current: { id: string; start: TransactionStart; total: number; perCollection: Map<string, number> } | null = null;

  get id(): string | null {
    return this.current?.id ?? null;
  }

  /** Opens a transaction; returns the BEGIN value. */
  begin(start: TransactionStart): TransactionValue {
    const id = `${start.xid}:${start.beginLsn ?? start.commitLsn}`;
    this.current = { id, start, total: 0, perCollection: new Map() };
    return { status: 'BEGIN', id, event_count: null, data_collections: null, ts_ms: start.commitTimeMs };
  }

  /** The block for the next event of `dataCollection` (`schema.table`); null outside a transaction. */
  next(dataCollection: string): TransactionBlock | null {
    const cur = this.current;
    if (!cur) return null;
    const n = (cur.perCollection.get(dataCollection) ?? 0) + 1;
    cur.perCollection.set(dataCollection, n);
    cur.total++;
    return { id: cur.id, total_order: cur.total, data_collection_order: n };
  }

  /** Closes the open transaction; returns the END value (null if none was open). */
  end(): TransactionValue | null {
    const cur = this.current;
    if (!cur) return null;
    this.current = null;
    return {
      status: 'END',
      id: cur.id,
      event_count: cur.total,
      data_collections: [...cur.perCollection].map(([data_collection, event_count]) => ({ data_collection, event_count })),
      ts_ms: cur.start.commitTimeMs,
    };
  }
}
