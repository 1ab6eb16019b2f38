/**
 * The snapshot half of `cdc-fanout rebuild --from snapshot` (src/daemon/rebuild.ts, docs/rebuild.md):
 * an incremental snapshot of the rebuilt tables into their data topics, requested through the
 * pipeline's signal table (the running daemon's source executes it, src/source/incremental-snapshot.ts),
 * and its completion read from the source's offsets topic.
 *
 * Why a new generation fed from the topics' ends E (read BEFORE the signal is written) plus this
 * snapshot holds every row at its latest value — whatever the topics lost below E to retention:
 *   - every snapshot row is published after the signal was written, so at an offset ≥ E;
 *   - every change committed after the signal is streamed at an offset ≥ E (the stream publishes in
 *     commit order, and E was read before the signal committed);
 *   - the DBLog watermark argument (incremental-snapshot.ts) then gives, per row: its latest value
 *     before the chunk read is in the chunk; a change between the watermarks is streamed (≥ E) and
 *     drops the key from the chunk; a later change is streamed after the chunk with a higher
 *     version. A row deleted before the signal is in neither: absent, as in Postgres.
 * Completion is read from the *committed* offsets record: the state `finished: done` is committed in
 * the same Kafka transaction as the last chunk's rows, so once it is visible every snapshot row is
 * below the topics' ends read afterwards.
 */
import pg from 'pg';
import type { PipelineConfig } from '../config/schema.js';
import type { KafkaClient } from '../kafka/client.js';
import { readPipelineState, type IncrementalCheckpoint } from '../kafka/offsets-store.js';
import type { Logger } from '../observability/logger.js';
import { offsetsTopic, parseSourceConfig, sourceSpec, type SourceConfig } from '../source/config.js';
import { clientConfig, qualified, resolveServers, resolveTables } from '../source/connection.js';
import { writeSignal } from './signals.js';

/** The source's own settings (the pipeline's source block minus what other layers add). */
export function sourceConfigOf(source: PipelineConfig['source']): SourceConfig {
  const own: Record<string, unknown> = {};
  const fields: Readonly<Record<string, unknown>> = source;
  for (const k of Object.keys(sourceSpec.shape)) if (fields[k] !== undefined) own[k] = fields[k];
  return parseSourceConfig(own);
}

/** The incremental snapshot state in the source's last committed offsets record (null: none yet). */
export async function committedIncremental(kafka: KafkaClient, cfg: SourceConfig): Promise<IncrementalCheckpoint | null> {
  const topic = offsetsTopic(cfg);
  const admin = kafka.admin();
  await admin.connect();
  let high = 0n;
  try {
    if (!(await admin.listTopics()).includes(topic)) return null;
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > high) high = BigInt(p.high);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const state = await readPipelineState(kafka, topic, cfg.name, high);
  return state.offset?.incremental ?? null;
}

/**
 * The tables an incremental snapshot for the rebuild reads: `wanted` (checked: captured, with a key),
 * else every captured table (all must have a key: a keyless table cannot be snapshotted incrementally
 * and `--from snapshot` would silently miss it).
 */
export async function snapshotTables(cfg: SourceConfig, wanted: readonly string[] | null, logger: Logger): Promise<string[]> {
  const primary = (await resolveServers(cfg)).primary;
  const client = new pg.Client(clientConfig(primary));
  client.on('error', () => undefined); // a lost server fails the next query with its message
  await client.connect();
  try {
    const captured = await resolveTables(client, cfg, logger);
    const names = captured.map(qualified);
    const tables = wanted ? [...wanted] : names;
    const unknown = tables.filter((t) => !names.includes(t));
    if (unknown.length) throw new Error(`--from snapshot: not captured by pipeline "${cfg.name}": ${unknown.join(', ')} (captured: ${names.join(', ') || 'none'})`);
    const keyless = captured.filter((t) => t.keyColumns.length === 0 && tables.includes(qualified(t))).map(qualified);
    if (keyless.length) {
      throw new Error(
        `--from snapshot: ${keyless.join(', ')} ${keyless.length === 1 ? 'has' : 'have'} no primary key (or replica identity index), which the incremental snapshot feeding the rebuild needs; ` +
          `give ${keyless.length === 1 ? 'it' : 'them'} one, leave ${keyless.length === 1 ? 'it' : 'them'} out with --tables, or rebuild with --from log`,
      );
    }
    if (tables.length === 0) throw new Error(`--from snapshot: pipeline "${cfg.name}" captures no tables`);
    return tables.sort();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Writes the execute-snapshot signal (incremental) for `tables`; returns its id. */
export async function requestIncrementalSnapshot(cfg: SourceConfig, signalTable: string | undefined, tables: readonly string[]): Promise<string> {
  if (!signalTable) throw new Error('--from snapshot needs source.signal.data.collection (e.g. public.cdc_fanout_signal): the running daemon takes the snapshot request from it; set it and restart the daemon');
  const primary = (await resolveServers(cfg)).primary;
  const client = new pg.Client(clientConfig(primary));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await writeSignal(client, signalTable, { kind: 'execute', tables, type: 'incremental' });
  } finally {
    await client.end().catch(() => undefined);
  }
}
