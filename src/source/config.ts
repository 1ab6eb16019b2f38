/**
 * Postgres source connector settings, Debezium names where Debezium has one. Every field is
 * described (a test enforces it). The event options (type handling, tombstones, key columns, topic
 * routing) live in src/events/config.ts and are merged by `sourceConnectorSpec()` when present.
 */
import { z } from 'zod';
import { tlsField } from '../spec/groups.js';
import { eventsSpec, type EventsConfig } from '../events/config.js';

export const snapshotModes = ['initial', 'never', 'initial_only', 'when_needed'] as const;
export const oversizeHandlingModes = ['fail', 'truncate', 'skip'] as const;
export const publicationAutocreateModes = ['all_tables', 'filtered', 'disabled'] as const;
export const targetSessionAttrs = ['primary', 'standby'] as const;

/** One `host[:port]` entry of database.hosts; null when malformed. */
export function parseHostEntry(entry: string, defaultPort: number): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Field check of database.hosts: every entry is `host` or `host:port`. */
function hostList(list: string, ctx: z.core.$RefinementCtx<string>): void {
  const entries = list.split(',').map((s) => s.trim());
  if (entries.every((e) => e === '')) ctx.addIssue({ code: 'custom', message: 'names no host; give `host[:port]` entries separated by commas, e.g. "pg-a:5432,pg-b:5432"' });
  for (const e of entries) {
    if (e !== '' && !parseHostEntry(e, 5432)) ctx.addIssue({ code: 'custom', message: `entry "${e}" is not \`host\` or \`host:port\` (port 1–65535); e.g. "pg-a:5432,pg-b:5432" (IPv6: "[::1]:5432")` });
  }
}

/**
 * Field check of table.include.list / table.exclude.list: every comma-separated entry must compile
 * as a regular expression (the runtime anchors it as `^(?:entry)$` against "schema.table").
 */
function tablePatterns(list: string, ctx: z.core.$RefinementCtx<string>): void {
  for (const entry of list.split(',').map((s) => s.trim())) {
    if (entry === '') continue;
    try {
      new RegExp(`^(?:${entry})$`);
    } catch (e) {
      const why = (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '');
      ctx.addIssue({ code: 'custom', message: `entry "${entry}" is not a valid regular expression (${why}); entries are regular expressions over "schema.table" — escape special characters, e.g. "public\\.orders", or fix the pattern` });
    }
  }
}

/**
 * table.include.list / table.exclude.list: Debezium's comma-separated string, or a YAML/JSON list of
 * the same entries (the list shape every sink's `tables` has); either way the parsed value is the
 * comma-separated string the source runs on.
 */
function tableList(description: string) {
  return z
    .union([
      z.string(),
      z
        .array(z.string().min(1).regex(/^[^,]*$/, 'a list entry cannot hold ","; write one pattern per entry'))
        .min(1),
    ])
    .transform((v) => (Array.isArray(v) ? v.join(',') : v))
    .pipe(z.string().superRefine(tablePatterns))
    .optional()
    .describe(description);
}

/** Source-only fields; `sourceSpec` adds the events options (topic.prefix, type handling, keys, topics). */
export const sourceOnlySpec = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" or "-"')
      .describe('Connector name. Keys the offsets record and the Kafka transactionalId (`cdc-fanout-<name>`): two processes with the same name fence each other.'),
    'database.hostname': z.string().default('127.0.0.1').describe('Postgres host.'),
    'database.port': z.number().int().min(1).max(65535).default(5432).describe('Postgres port.'),
    'database.hosts': z
      .string()
      .superRefine(hostList)
      .optional()
      .describe(
        'High availability: comma-separated `host[:port]` list of the servers of one Postgres cluster (primary and standbys, any order; port defaults to database.port). Replaces database.hostname. Every start of the source (and every restart after a failure, e.g. a failover) connects to the one that database.target.session.attrs asks for, like libpq\'s multi-host strings. See docs/ha.md.',
      ),
    'database.target.session.attrs': z
      .enum(targetSessionAttrs)
      .default('primary')
      .describe(
        'Which server of database.hosts (or database.hostname) the source decodes from. primary: the one not in recovery (after a failover: the promoted standby); a standby fails the start with this fix. standby: a hot standby (PG 16+ logical decoding on a standby; the slot lives on it); the primary of database.hosts is then used for what a standby cannot do (publication DDL, heartbeat.action.query, pg_log_standby_snapshot() while the slot is created). See docs/ha.md.',
      ),
    'database.user': z.string().default('postgres').describe('Postgres user; needs the REPLICATION attribute (or superuser) and SELECT on captured tables.'),
    'database.password': z.string().optional().describe('Postgres password (use ${ENV}; redacted in logs).'),
    'database.dbname': z.string().default('postgres').describe('Database to capture.'),
    'database.tls': tlsField('TLS to Postgres (every connection: replication, snapshot, heartbeat, catalog reads); mode is libpq\'s sslmode (Debezium\'s database.sslmode).'),
    'slot.name': z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'replication slot names allow lower-case letters, digits and "_" (max 63)')
      .default('cdc_fanout')
      .describe('Logical replication slot (created with the pgoutput plugin when missing).'),
    'slot.failover': z
      .boolean()
      .default(false)
      .describe(
        'PG 17+: create the slot as a failover slot (and turn failover on for an existing one), so Postgres syncs it to standbys that run with sync_replication_slots = on; after a promotion the source continues from the synced slot (list the standby in database.hosts). Needs the server settings in docs/ha.md (`validate --online` checks them). An error before PG 17.',
      ),
    'slot.takeover': z
      .boolean()
      .default(false)
      .describe(
        'Take over an existing slot this pipeline has no ownership record for (created by another pipeline or tool, or state reset). Only when its previous owner is gone for good; remove it after the first start. CLI: `run --take-over-slot <pipeline>`.',
      ),
    'slot.health.interval.ms': z
      .number()
      .int()
      .min(0)
      .default(10000)
      .describe('How often to poll pg_replication_slots for slot lag, wal_status and safe_wal_size (metrics, status, warnings; a lost or vanished slot fails the source). 0 disables.'),
    'slot.lag.warn.bytes': z
      .number()
      .int()
      .min(0)
      .default(1024 ** 3)
      .describe('Warn (log + status) when the slot holds back more WAL than this: pg_current_wal_lsn() − confirmed_flush_lsn. 0 disables.'),
    'slot.lag.warn.ms': z
      .number()
      .int()
      .min(0)
      .default(300000)
      .describe('Warn (log + status) when the slot time lag exceeds this (see cdc_fanout_slot_lag_ms). 0 disables.'),
    'standby.poll.interval.ms': z
      .number()
      .int()
      .min(100)
      .default(1000)
      .describe(
        'Daemon HA: when another daemon already runs this pipeline\'s source (it holds the leadership lease of the slot), this one waits as STANDBY and checks this often (±20 % jitter) whether the lease and the slot are free, then takes over. Bounds takeover after a crash of the active daemon (plus its start-up). See docs/ha.md.',
      ),
    'standby.lease.timeout.ms': z
      .number()
      .int()
      .min(3000)
      .default(10000)
      .describe(
        'Daemon HA: how long Postgres takes at most to notice that the active daemon\'s host vanished without closing its connections (power loss, network partition) and release its leadership lease — TCP keepalives and tcp_user_timeout on the lease connection. A crashed or killed process releases it at once. The slot itself is released after the server\'s wal_sender_timeout.',
      ),
    'slot.drop.on.stop': z.boolean().default(false).describe('Drop the slot on a clean stop (tests/demos only: the next start loses changes made meanwhile).'),
    'publication.name': z.string().default('cdc_fanout_publication').describe('Publication read by pgoutput.'),
    'publication.autocreate.mode': z
      .enum(publicationAutocreateModes)
      .default('all_tables')
      .describe('all_tables: create the publication FOR ALL TABLES when missing; filtered: create/alter it to exactly the tables matched by the include/exclude lists; disabled: the publication must exist.'),
    'table.include.list': tableList('Regular expressions matched against `schema.table` (whole name), as a list or comma-separated (Debezium); only matching tables are captured. Sinks select among these with `tables`.'),
    'table.exclude.list': tableList('Regular expressions matched against `schema.table`, as a list or comma-separated; matching tables are not captured. Not combinable with table.include.list.'),
    'message.prefix.include.list': tableList('Regular expressions matched against the whole prefix of a logical decoding message (`pg_logical_emit_message`), as a list or comma-separated (Debezium); only matching messages are published to the message topic. Absent: every message is published. Messages are database-wide, so each pipeline sees every tool\'s messages unless it filters them.'),
    'message.prefix.exclude.list': tableList('Regular expressions matched against the whole prefix of a logical decoding message, as a list or comma-separated (Debezium); matching messages are not published. Not combinable with message.prefix.include.list.'),
    'snapshot.mode': z
      .enum(snapshotModes)
      .default('initial')
      .describe('initial: snapshot when no offsets exist, then stream; never: stream only; initial_only: snapshot then stop; when_needed: snapshot when no offsets exist or the slot was lost.'),
    'snapshot.new.tables': z
      .boolean()
      .default(true)
      .describe(
        'Snapshot a table that starts matching the include/exclude lists (a new table, one the lists now match, or a dropped and recreated one), at start-up or at run time (table.discovery.interval.ms), while streaming continues: its existing rows reach Kafka and every sink. false: such a table is only streamed from when it joins (its earlier rows are not published; logged). See docs/table-lifecycle.md.',
      ),
    'table.removal.mode': z
      .enum(['keep', 'truncate'])
      .default('keep')
      .describe(
        'When a captured table is dropped or stops matching the include/exclude lists (noticed at start-up or by the run-time check): keep = the sinks keep what they derived from it; truncate = publish a TRUNCATE event (op "t") for it at a position after its last change, so every sink removes its rows per its own truncate.mode. See docs/table-lifecycle.md.',
      ),
    'table.discovery.interval.ms': z
      .number()
      .int()
      .min(0)
      .default(30000)
      .describe(
        'How often the running source checks the catalog for tables that start or stop matching the include/exclude lists; a new one is added to the publication (filtered mode) and snapshotted (snapshot.new.tables), one that left is removed from it. 0: only at start-up.',
      ),
    'snapshot.fetch.size': z
      .number()
      .int()
      .positive()
      .default(10000)
      .describe('Rows per snapshot query and per checkpoint (keyset pagination by primary key; for a table without one, a ctid block range of about this many rows); bounds memory to about snapshot.max.threads × this many rows. A crash loses at most the queries in flight.'),
    'incremental.snapshot.chunk.size': z
      .number()
      .int()
      .positive()
      .default(1024)
      .describe('Rows per chunk of an incremental snapshot (read between a low and a high watermark while streaming continues; its rows are held in memory until the stream reaches the high watermark). Debezium\'s name and default. See docs/snapshots.md.'),
    'snapshot.max.threads': z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        'Workers reading one table in parallel during a snapshot (initial, new tables, ad-hoc): the table is split into primary-key ranges (ctid block ranges without a key), each worker has its own Postgres connection in the same exported snapshot (SET TRANSACTION SNAPSHOT). Debezium\'s name; Debezium parallelises across tables instead. See docs/snapshots.md.',
      ),
    'heartbeat.interval.ms': z
      .number()
      .int()
      .min(0)
      .default(10000)
      .describe('How often to send a standby status update (and run heartbeat.action.query) when idle; 0 disables the action query (status updates still answer server keepalives).'),
    'heartbeat.action.query': z
      .string()
      .optional()
      .describe('SQL run on a normal connection every heartbeat interval, e.g. an UPDATE of a captured heartbeat table so the slot advances when captured tables are idle.'),
    'max.batch.size': z.number().int().positive().default(2048).describe('Events per Kafka send; also the chunk size in which a large Postgres transaction is streamed into an open Kafka transaction (Debezium\'s default).'),
    'max.batch.wait.ms': z.number().int().min(0).default(50).describe('Longest time a committed Postgres transaction waits for more to share its Kafka transaction.'),
    'max.queue.size': z.number().int().positive().default(8192).describe('Events decoded but not yet sent to Kafka; when full, reading from the replication stream pauses (backpressure). Bounds the source\'s memory (Debezium\'s default).'),
    'max.queue.size.in.bytes': z
      .number()
      .int()
      .min(0)
      .default(16 * 1024 * 1024)
      .describe(
        'Bytes (serialized key + value + headers) of events decoded but not yet committed to Kafka; when reached, reading from the replication stream pauses, like max.queue.size. Bounds the source\'s memory for wide rows, where max.queue.size events could be gigabytes. 0: no byte bound (Debezium\'s default; ours is 16 MiB).',
      ),
    'event.oversize.handling.mode': z
      .enum(oversizeHandlingModes)
      .default('fail')
      .describe(
        'What to do with one event larger than its topic accepts (min of kafka max.request.size and the topic\'s max.message.bytes). fail: stop the source with an error naming table, key, size and limit (nothing is skipped; fix the limit and restart); truncate: cut the largest string values of before/after (text, json, bytea …) to fit, each ending in "…[truncated N bytes]", and list them in the record header cdc.truncated; skip: drop the event, log table and key and count it in cdc_fanout_source_events_oversize_total (its position still commits).',
      ),
    'offsets.topic': z.string().optional().describe('Compacted topic holding the last committed position; default `<topic.prefix>.cdc-fanout.offsets`.'),
    'kafka.transaction.timeout.ms': z.number().int().positive().default(300000).describe('Kafka transaction timeout; must cover streaming the largest Postgres transaction (broker cap transaction.max.timeout.ms).'),
  })
  .strict();

export const sourceSpec = sourceOnlySpec.extend(eventsSpec.shape).strict();

export type SourceConfig = z.infer<typeof sourceSpec>;

export function offsetsTopic(cfg: Pick<SourceConfig, 'offsets.topic' | 'topic.prefix'>): string {
  return cfg['offsets.topic'] ?? `${cfg['topic.prefix']}.cdc-fanout.offsets`;
}

export function transactionalId(cfg: Pick<SourceConfig, 'name'>): string {
  return `cdc-fanout-${cfg.name}`;
}

/** Parses config input with an error that names the field and says what is wrong. */
export function parseSourceConfig(input: unknown): SourceConfig {
  const r = sourceSpec.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid source config:\n${lines.join('\n')}`);
  }
  if (r.data['table.include.list'] && r.data['table.exclude.list']) {
    throw new Error('invalid source config: set table.include.list or table.exclude.list, not both');
  }
  if (r.data['message.prefix.include.list'] && r.data['message.prefix.exclude.list']) {
    throw new Error('invalid source config: set message.prefix.include.list or message.prefix.exclude.list, not both');
  }
  return r.data;
}

/** The events-layer options inside the merged source config (used by streaming and ad-hoc snapshots). */
export function eventsOptions(cfg: SourceConfig): EventsConfig {
  const picked: Record<string, unknown> = {};
  for (const k of Object.keys(eventsSpec.shape)) picked[k] = cfg[k as keyof SourceConfig];
  return eventsSpec.parse(picked);
}
