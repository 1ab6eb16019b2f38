/**
 * Ad-hoc re-snapshot of captured tables while streaming continues (the `execute-snapshot` signal).
 *
 * Correct under concurrent writes by the same argument as the initial snapshot: a short-lived slot
 * `<slot.name>_adhoc` is created with EXPORT_SNAPSHOT, and the tables are read in that exported
 * snapshot (the source's Snapshotter). Every transaction committed before the slot's consistent
 * point CP is visible in the read, every later one is not — and has a commit LSN > CP. The rows go
 * out as op `r` events with position (CP, ordinal), i.e. sink version CP, into the normal data
 * topics, so at every sink: a change the read already contains arrives with version ≤ CP and never
 * overwrites the snapshot image, and a later change (version > CP) always wins over it, whichever
 * order Kafka delivers them in.
 *
 * It never touches the streaming source's position: it publishes with its own transactional id
 * (`cdc-fanout-<name>-adhoc`) and keeps its chunk checkpoints in its own compacted topic
 * (`<topic.prefix>.cdc-fanout.adhoc-snapshots`). The temporary slot is dropped when done (and a
 * leftover from a crash is dropped before the next one).
 */
import pg from 'pg';
import { formatLsn } from '../events/change.js';
import { TypeRegistry } from '../events/type-registry.js';
import { TopicAdmin, topicDefaults } from '../kafka/admin.js';
import { OversizeGuard } from './oversize.js';
import type { KafkaConfig } from '../kafka/config.js';
import { TransactionalProducer } from '../kafka/producer.js';
import type { Logger } from '../observability/logger.js';
import { eventsOptions, type SourceConfig } from './config.js';
import { clientConfig, createSlotExportingSnapshot, dropSlot, qualified, resolveTables } from './connection.js';
import { kafkaClient } from '../kafka/client.js';
import { Publisher, publisherOptions } from './publisher.js';
import { createRecordBuilder } from './record-adapter.js';
import { RelationCache } from './relations.js';
import { Snapshotter } from './snapshotter.js';
import type { SnapshotTables } from './snapshot-tables.js';

export interface AdHocSnapshotInput {
  readonly config: SourceConfig;
  readonly kafka: KafkaConfig;
  readonly tables: readonly string[];
  readonly logger: Logger;
  /** Per-table snapshot progress for status (the source's). */
  readonly snapshotTables?: SnapshotTables;
}

/** Runs one ad-hoc snapshot to completion; returns the number of rows published. */
export async function runAdHocSnapshot(input: AdHocSnapshotInput): Promise<number> {
  const base = input.config;
  const slot = `${base['slot.name'].slice(0, 57)}_adhoc`;
  const cfg: SourceConfig = { ...base, 'slot.name': slot };
  const log = input.logger.child({ adhocSnapshot: input.tables });
  const client = new pg.Client(clientConfig(cfg));
  client.on('error', () => undefined); // a server lost while idle fails the next query, not the process
  await client.connect();
  const admin = new TopicAdmin(kafkaClient(input.kafka, { logger: log }), topicDefaults(input.kafka));
  const producer = new TransactionalProducer(input.kafka, {
    transactionalId: `cdc-fanout-${cfg.name}-adhoc`,
    transactionTimeoutMs: cfg['kafka.transaction.timeout.ms'],
    logger: log,
    batchLimit: (t) => admin.batchLimit(t),
  });
  let exported: Awaited<ReturnType<typeof createSlotExportingSnapshot>> | undefined;
  try {
    const captured = await resolveTables(client, cfg, log);
    const tables = captured.filter((t) => input.tables.includes(qualified(t)));
    const missing = input.tables.filter((t) => !tables.some((c) => qualified(c) === t));
    if (missing.length) throw new Error(`not captured: ${missing.join(', ')}`);
    await admin.connect();
    const checkpoints = `${cfg['topic.prefix']}.cdc-fanout.adhoc-snapshots`;
    await admin.ensureOffsetsTopic(checkpoints);
    await producer.connect();
    let rows = 0;
    const publisher = new Publisher(
      producer,
      publisherOptions(cfg, input.kafka, {
        offsetsTopic: checkpoints,
        onCommitted: (b) => {
          rows += b.events;
        },
      }),
    );
    await dropSlot(client, slot); // a leftover from a crashed run
    exported = await createSlotExportingSnapshot(cfg);
    log.info({ consistentPoint: formatLsn(exported.consistentPoint), slot }, 'ad-hoc snapshot: exported snapshot taken');
    const snapshotter = new Snapshotter({
      config: cfg,
      relations: new RelationCache(new TypeRegistry(client), client),
      builder: createRecordBuilder(eventsOptions(cfg), cfg['database.dbname']),
      publisher,
      guard: new OversizeGuard(cfg['event.oversize.handling.mode'], admin, input.kafka['max.request.size'], cfg.name, log),
      admin,
      logger: log,
      ...(input.snapshotTables ? { tables: input.snapshotTables } : {}),
    });
    await snapshotter.run(tables, exported.consistentPoint, exported.snapshotName, null);
    log.info({ rows }, 'ad-hoc snapshot done');
    return rows;
  } finally {
    await exported?.close().catch(() => undefined);
    await dropSlot(client, slot).catch((e: unknown) => log.warn({ err: String(e), slot }, 'could not drop the ad-hoc snapshot slot; drop it by hand'));
    await producer.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
