/**
 * Prometheus metrics (prom-client). One registry per process; components import the instruments
 * they update. Labels stay low-cardinality: pipeline, sink, table (never keys or values).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cdc_fanout_process_' });
// prom-client's defaults report heap and external memory but not the ArrayBuffer part of external
// (Buffers: Kafka batches, HTTP bodies) — the first place to look when RSS grows and the heap does not.
new Gauge({
  name: 'cdc_fanout_process_nodejs_array_buffers_bytes',
  help: 'process.memoryUsage().arrayBuffers: memory of ArrayBuffers and Buffers (part of external memory)',
  registers: [registry],
  collect() {
    this.set(process.memoryUsage().arrayBuffers);
  },
});

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  sourceEventsRead: new Counter({ name: 'cdc_fanout_source_events_read_total', help: 'Change events decoded from the WAL or snapshot', labelNames: ['pipeline', 'table', 'op'], registers: [registry] }),
  sourceEventsPublished: new Counter({ name: 'cdc_fanout_source_events_published_total', help: 'Change events committed to Kafka', labelNames: ['pipeline'], registers: [registry] }),
  sourceBytesPublished: new Counter({ name: 'cdc_fanout_source_bytes_published_total', help: 'Bytes of record values committed to Kafka', labelNames: ['pipeline'], registers: [registry] }),
  sourceEventsOversize: new Counter({ name: 'cdc_fanout_source_events_oversize_total', help: 'Events larger than their topic accepts, by action taken (truncated, skipped) per event.oversize.handling.mode', labelNames: ['pipeline', 'table', 'action'], registers: [registry] }),
  sourceTransactionsCommitted: new Counter({ name: 'cdc_fanout_source_kafka_transactions_total', help: 'Kafka transactions committed by the source', labelNames: ['pipeline'], registers: [registry] }),
  sourceCommitLatency: new Histogram({ name: 'cdc_fanout_source_commit_to_kafka_seconds', help: 'Postgres commit time to Kafka transaction commit', labelNames: ['pipeline'], buckets: latencyBuckets, registers: [registry] }),
  slotLagBytes: new Gauge({ name: 'cdc_fanout_slot_lag_bytes', help: 'pg_current_wal_lsn() minus the slot confirmed_flush_lsn', labelNames: ['pipeline'], registers: [registry] }),
  slotLagMs: new Gauge({
    name: 'cdc_fanout_slot_lag_ms',
    help: 'How long ago the server had written what the slot has confirmed: now minus the latest slot-health poll whose pg_current_wal_lsn() <= confirmed_flush_lsn (0 = caught up)',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  slotRetainedBytes: new Gauge({ name: 'cdc_fanout_slot_retained_wal_bytes', help: 'pg_current_wal_lsn() minus the slot restart_lsn: WAL kept on disk for the slot', labelNames: ['pipeline'], registers: [registry] }),
  slotWalStatus: new Gauge({ name: 'cdc_fanout_slot_wal_status', help: '1 for the slot\'s current pg_replication_slots.wal_status (reserved, extended, unreserved, lost) or "missing"', labelNames: ['pipeline', 'wal_status'], registers: [registry] }),
  snapshotRowsDone: new Gauge({ name: 'cdc_fanout_snapshot_rows_done', help: 'Snapshot rows published', labelNames: ['pipeline', 'table'], registers: [registry] }),
  snapshotRowsTotal: new Gauge({ name: 'cdc_fanout_snapshot_rows_estimated', help: 'Snapshot rows estimated (pg_class.reltuples)', labelNames: ['pipeline', 'table'], registers: [registry] }),
  sinkRecords: new Counter({ name: 'cdc_fanout_sink_records_total', help: 'Records applied by a sink', labelNames: ['pipeline', 'sink'], registers: [registry] }),
  sinkBatchSize: new Histogram({ name: 'cdc_fanout_sink_batch_records', help: 'Records per sink batch', labelNames: ['pipeline', 'sink'], buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000], registers: [registry] }),
  sinkBatchLatency: new Histogram({ name: 'cdc_fanout_sink_batch_seconds', help: 'Time to write and commit one sink batch', labelNames: ['pipeline', 'sink'], buckets: latencyBuckets, registers: [registry] }),
  // Up to 10 min: an outage of a sink server shows in this histogram, not only in its +Inf bucket.
  sinkEndToEnd: new Histogram({ name: 'cdc_fanout_sink_commit_to_applied_seconds', help: 'Postgres commit time (source ts_ms) to the sink commit of the record, per sink', labelNames: ['pipeline', 'sink'], buckets: [...latencyBuckets, 30, 60, 120, 300, 600], registers: [registry] }),
  sinkLag: new Gauge({ name: 'cdc_fanout_sink_consumer_lag', help: 'Last stable offset minus the sink\'s stored offset, per assigned partition (absent while unknown)', labelNames: ['pipeline', 'sink', 'topic', 'partition'], registers: [registry] }),
  sinkTimeLag: new Gauge({ name: 'cdc_fanout_sink_lag_seconds', help: 'Age of the oldest event the sink has not applied yet (0 when caught up; absent while unknown)', labelNames: ['pipeline', 'sink'], registers: [registry] }),
  sinkStale: new Counter({ name: 'cdc_fanout_sink_stale_skipped_total', help: 'Writes a sink refused because it holds a newer version (replays)', labelNames: ['pipeline', 'sink'], registers: [registry] }),
  sinkErrors: new Counter({ name: 'cdc_fanout_sink_errors_total', help: 'Sink errors by kind (retriable, rejected, offsets_regressed, table_failed)', labelNames: ['pipeline', 'sink', 'kind'], registers: [registry] }),
  sinkDlq: new Counter({ name: 'cdc_fanout_sink_dlq_total', help: 'Records sent to the dead-letter topic', labelNames: ['pipeline', 'sink'], registers: [registry] }),
} as const;
