/** Config spec of the ClickHouse sink (`type: clickhouse`). Every field is described for the docs. */
import { z } from 'zod';
import { templateProblem } from '../../events/template.js';
import { authField, requestTimeoutField, tableOverridesField, tlsField, truncateModeField, urlField, urlTlsProblem } from '../../spec/groups.js';

export const tableMode = z.enum(['upsert', 'changelog', 'both']).describe(
  'upsert: current state (ReplacingMergeTree(_version), one row per key after FINAL); changelog: append every change (op, before/after JSON, position) to `<table><changelog.table.suffix>`; both: keep the two tables.',
);

export const tableOverride = z
  .object({
    mode: tableMode.optional().describe('Mode for this table (default: the sink-wide `mode`).'),
    'table.name': z.string().min(1).optional().describe('Target table name for this source table (default: from `table.name.format`).'),
  })
  .strict()
  .describe('Per-table settings.');

export const clickhouseSpec = z
  .object({
    url: urlField(['http', 'https'], 'http://127.0.0.1:8123', 'ClickHouse\'s HTTP interface; https:// (e.g. https://ch.example:8443) for TLS, see `tls`.'),
    auth: authField('ClickHouse user and password; default user "default" with an empty password.'),
    tls: tlsField('TLS to ClickHouse\'s https port (`url` must be https://).'),
    database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'use letters, digits and _ (ClickHouse identifier)').default('default').describe('Database holding the target tables, views and the checkpoint table (created if missing).'),
    'table.name.format': z
      .string()
      .min(1)
      .superRefine((v, ctx) => {
        const problem = templateProblem(v, ['schema', 'table']);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('{schema}_{table}').describe('Target table name template; `{schema}` and `{table}` are the source schema and table.'),
    mode: tableMode.default('upsert').describe('Default mode of every table: upsert (current state), changelog (every change) or both.'),
    'table.overrides': tableOverridesField(tableOverride, 'its mode and target table name.'),
    'table.create': z.boolean().default(true).describe('Create missing target tables from the source columns (false: the table must exist, e.g. from migrations/clickhouse/*.sql; columns are mapped by name).'),
    'schema.evolution': z.enum(['basic', 'none']).default('basic').describe('basic: a new source column is added with ALTER TABLE ADD COLUMN (Nullable), and a column whose source type widened (int → bigint, numeric precision, number → text; needs the catalog) is altered with MODIFY COLUMN when its values stop fitting; none: unknown fields are dropped, nothing is altered. See docs/schema-evolution.md.'),
    'source.url': z.string().optional().describe('Postgres URL of the source database, used only to read column types and primary keys (pg_catalog) when creating or extending tables. Default: the pipeline\'s own source connection; with neither, types are inferred from values.'),
    'timestamp.fallback': z.enum(['string', 'datetime']).default('string').describe("Servers without DateTime64 (< 20.1): store timestamps as exact String `YYYY-MM-DD hh:mm:ss.ffffff` (string) or as DateTime('UTC') truncated to seconds (datetime)."),
    'truncate.mode': truncateModeField(
      ['delete', 'mark-deleted', 'ignore'],
      'delete',
      'for the rows older than the truncate (by commit position; rows written after it stay): delete = ALTER TABLE … DELETE mutation; mark-deleted = insert _deleted=1 rows at the truncate position; ignore = keep them.',
    ),
    'current.view.suffix': z.string().default('_current').describe('Suffix of the view `SELECT … FINAL WHERE _deleted = 0` the sink creates next to each upsert table; empty: no view.'),
    'changelog.table.suffix': z.string().min(1).default('_changelog').describe('Suffix of the changelog table name.'),
    'checkpoint.table': z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('cdc_fanout_checkpoints').describe('Table holding consumed offsets per (group, topic, partition).'),
    'checkpoint.interval.ms': z
      .number()
      .int()
      .nonnegative()
      .default(200)
      .describe(
        'Shortest time between two INSERTs into the checkpoint table. The partitions\' offset commits that arrive meanwhile are written together in the next one (each batch still waits until its offsets are durable), so the checkpoint table gets a few parts per second instead of one per batch per partition. 0: an INSERT as soon as the previous one finished (commits arriving during it are still grouped). Adds up to this much latency per batch.',
      ),
    'checkpoint.group': z.string().optional().describe('Group name under which offsets are stored (default: the consumer group id of the sink, `cdc-fanout.<pipeline>.<sink>` unless `group.id` is set).'),
    'stale.check': z.boolean().default(true).describe('Skip changes older than the stored row (counted as staleSkipped): versions come from an in-memory LRU or, for updates/deletes of keys not in it, one lookup per batch. Inserts of unseen keys are not looked up. Off: rely on ReplacingMergeTree alone (replays still collapse under FINAL).'),
    'stale.check.replay.records': z.number().int().nonnegative().default(10_000).describe('After a partition is (re)assigned (loadOffsets) or first seen, its first N records are stale-checked against ClickHouse for keys not in memory: the only place replays of already-inserted rows occur. Later records are checked against memory only.'),
    'stale.cache.keys': z.number().int().nonnegative().default(50_000).describe('Row versions remembered in memory (per table, least recently written evicted first) so the stale check reads ClickHouse only for keys it has not seen; about 90 bytes of heap per key (50,000 ≈ 4.5 MB). 0 disables the cache.'),
    'insert.max.rows': z.number().int().positive().default(100_000).describe('Maximum rows per INSERT statement; bigger batches are split.'),
    'request.timeout.ms': requestTimeoutField(30_000, 'one HTTP request'),
    'dedup.window': z.number().int().nonnegative().default(1000).describe('non_replicated_deduplication_window set on tables created on servers with insert_deduplication_token (22.2+); 0 disables token dedup.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = urlTlsProblem(c.url, c.tls, 'https');
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  });

export type ClickHouseConfig = z.infer<typeof clickhouseSpec>;
export type TableMode = z.infer<typeof tableMode>;
