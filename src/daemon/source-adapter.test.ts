/**
 * The daemon's source status comes from the source component (PostgresSource.status() and its
 * SnapshotTables), never from the Prometheus registry: with an empty registry it is complete, and
 * values left in the registry (by an earlier source instance, another pipeline) do not show up.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KafkaConfig } from '../kafka/config.js';
import { silentLogger } from '../observability/logger.js';
import { metrics, registry } from '../observability/metrics.js';
import type { SourceStatus } from '../source/postgres-source.js';
import { SnapshotTables } from '../source/snapshot-tables.js';
import type { SlotHealth } from '../source/slot-health.js';
import { sourceFactory } from './source-adapter.js';

const fake = vi.hoisted(() => {
  const created: { tables: SnapshotTables; status: SourceStatus }[] = [];
  class FakePostgresSource {
    readonly me: { tables: SnapshotTables; status: SourceStatus };
    constructor(_config: unknown, _kafka: unknown, _logger: unknown, tables?: SnapshotTables) {
      const status: SourceStatus = {
        state: 'streaming',
        lastCommittedLsn: '0/10',
        lastCommittedSeq: 3,
        confirmedLsn: '0/10',
        eventsPublished: 7,
        kafkaTransactions: 2,
        snapshot: null,
        snapshotTables: [],
        error: null,
        slot: null,
        tables: null,
        standby: null,
        incremental: null,
      };
      this.me = { tables: tables ?? new SnapshotTables(), status };
      created.push(this.me);
    }
    status(): SourceStatus {
      return { ...this.me.status, snapshotTables: this.me.tables.list() };
    }
    onStandby(): void {}
    get writeConfig(): unknown {
      return {};
    }
  }
  return { created, FakePostgresSource };
});

vi.mock('../source/postgres-source.js', () => ({ PostgresSource: fake.FakePostgresSource }));

const pipeline = 'status_from_components';
const slot = (lagBytes: number): SlotHealth => ({
  slot: pipeline, checkedAt: '2026-01-01T00:00:00.000Z', exists: true, activePid: 1, walStatus: 'reserved', currentWalLsn: '0/20',
  confirmedFlushLsn: '0/10', restartLsn: '0/8', lagBytes, retainedBytes: 24, safeWalSize: null, lagMs: 5, warnings: [],
});

function handles() {
  const factory = sourceFactory({ pipeline, source: { name: pipeline }, kafka: {} as KafkaConfig, logger: silentLogger });
  return () => factory({ onFailure: () => undefined });
}

afterEach(() => {
  registry.resetMetrics();
  fake.created.length = 0;
});

describe('source status', () => {
  it('is complete with an empty Prometheus registry: snapshot rows, the per-table estimate and slot lag come from the source', async () => {
    registry.resetMetrics();
    const handle = handles()();
    const src = fake.created[0]!;
    src.tables.begin('public.a', 100);
    src.tables.rows('public.a', 100);
    src.tables.finish('public.a');
    src.tables.begin('public.b', null);
    src.tables.rows('public.b', 40);
    src.status = { ...src.status, state: 'snapshotting', slot: slot(4096), snapshot: { table: 'public.b', rowsDone: 140, rowsEstimated: 100, chunksDone: 1, chunksTotal: 4, threads: 2, rowsPerSecond: 70, etaSeconds: null } };

    const st = await handle.status();
    expect(st.snapshot).toEqual([
      { table: 'public.a', done: 100, total: 100, finished: true },
      // No estimate for a never-analyzed table: null, not the sum over the snapshot's tables.
      { table: 'public.b', done: 40, total: null, finished: false, rowsPerSecond: 70, etaSeconds: null, chunks: { done: 1, total: 4 }, threads: 2 },
    ]);
    expect(st.slotLagBytes).toBe(4096);
    expect(st.slotLagMs).toBe(5);
    expect(st.eventsPublished).toBe(7);
    expect(st.lastLsn).toBe('0/10');
  });

  it('ignores values the registry holds: slot lag unknown until the source polled, no snapshot rows it did not report', async () => {
    metrics.slotLagBytes.set({ pipeline }, 123_456);
    metrics.snapshotRowsDone.set({ pipeline, table: 'public.stale' }, 999);
    metrics.snapshotRowsTotal.set({ pipeline, table: 'public.stale' }, 1000);
    const st = await handles()().status();
    expect(st.slotLagBytes).toBeNull();
    expect(st.snapshot).toEqual([]);
  });

  it('keeps the tables an earlier source of the pipeline finished after a restart, not its unfinished one', async () => {
    const next = handles();
    next();
    const first = fake.created[0]!;
    first.tables.begin('public.a', 10);
    first.tables.rows('public.a', 10);
    first.tables.finish('public.a');
    first.tables.begin('public.b', 10);
    // The restart: a new source with the same SnapshotTables, whose start() drops unfinished tables.
    const again = next();
    expect(fake.created[1]!.tables).toBe(first.tables);
    first.tables.dropUnfinished();
    expect((await again.status()).snapshot).toEqual([{ table: 'public.a', done: 10, total: 10, finished: true }]);
  });
});
