/**
 * Replication setup and preflight checks: server settings, privileges, captured tables (include /
 * exclude lists), the publication (per publication.autocreate.mode) and the logical slot. Every
 * failure the user can fix says what is wrong and how to fix it.
 */
import pg from 'pg';
import { nodeTlsOptions } from '../spec/tls.js';
import type { Logger } from '../observability/logger.js';
import { formatLsn, parseLsn } from '../events/change.js';
import { parseHostEntry, type SourceConfig } from './config.js';
import type { ServerTimeline, SlotState } from './slot-ownership.js';

export type PgClientConfig = pg.ClientConfig;

/**
 * The servers the source may connect to: database.hosts (in order), else database.hostname:port.
 * A source that resolved its server (resolveServers) has exactly one left.
 */
export function configuredHosts(cfg: Pick<SourceConfig, 'database.hosts' | 'database.hostname' | 'database.port'>): { host: string; port: number }[] {
  const list = cfg['database.hosts'];
  if (!list) return [{ host: cfg['database.hostname'], port: cfg['database.port'] }];
  return list
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const h = parseHostEntry(e, cfg['database.port']);
      if (!h) throw new Error(`database.hosts entry "${e}" is not host or host:port`);
      return h;
    });
}

/** The config pinned to one server (database.hosts cleared). */
export function withServer(cfg: SourceConfig, h: { host: string; port: number }): SourceConfig {
  return { ...cfg, 'database.hostname': h.host, 'database.port': h.port, 'database.hosts': undefined };
}

export interface ResolvedServers {
  /** The config pinned to the server to decode from (the slot lives there). */
  readonly target: SourceConfig;
  /** The config pinned to the primary, for writes: the target itself unless decoding on a standby. */
  readonly primary: SourceConfig;
  /** Whether the target is a standby (database.target.session.attrs = standby). */
  readonly onStandby: boolean;
  readonly serverVersionNum: number;
}

/**
 * Picks the server to decode from among database.hosts (or the one database.hostname), like libpq's
 * target_session_attrs: asks each, in order, `pg_is_in_recovery()`. primary: the first not in
 * recovery; standby: the first in recovery, plus the first primary for writes. Fails naming every
 * server and what it answered. Each start of the source resolves again, so a restart after a
 * failover finds the promoted standby.
 */
export async function resolveServers(cfg: SourceConfig, timeoutMs = 5000): Promise<ResolvedServers> {
  const hosts = configuredHosts(cfg);
  const want = cfg['database.target.session.attrs'];
  const seen: string[] = [];
  let firstError: unknown = null;
  let primary: { host: string; port: number; version: number } | null = null;
  let standby: { host: string; port: number; version: number } | null = null;
  for (const h of hosts) {
    const name = `${h.host}:${h.port}`;
    const c = new pg.Client({ ...clientConfig(withServer(cfg, h)), connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs } as pg.ClientConfig);
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = (await c.query<{ rec: boolean; v: string }>(`SELECT pg_is_in_recovery() AS rec, current_setting('server_version_num') AS v`)).rows[0]!;
      seen.push(`${name}: ${r.rec ? 'standby (in recovery)' : 'primary'}`);
      const found = { ...h, version: Number(r.v) };
      if (!r.rec && !primary) primary = found;
      if (r.rec && !standby) standby = found;
    } catch (e) {
      seen.push(`${name}: ${(e as Error).message || String(e)}`);
      firstError ??= e;
      // One server (database.hostname): its own error, as without host resolution.
      if (hosts.length === 1) throw e;
    } finally {
      await c.end().catch(() => undefined);
    }
    if (want === 'primary' && primary) break;
    if (want === 'standby' && primary && standby) break;
  }
  const servers = hosts.length > 1 ? 'database.hosts' : 'database.hostname';
  // `cause`: the first connection failure (e.g. a TLS verification error, which start() explains).
  const cause = firstError ? { cause: firstError } : undefined;
  if (want === 'primary') {
    if (!primary) {
      throw new Error(
        `no primary among the Postgres servers of ${servers} (${seen.join('; ')}). ` +
          (hosts.length > 1
            ? 'During a failover this is expected until a standby is promoted (the source is restarted and tries again). '
            : 'To decode on a hot standby (PG 16+) set database.target.session.attrs: standby and list the primary too in database.hosts; otherwise point database.hostname at the primary. ') +
          'See docs/ha.md.',
        cause,
      );
    }
    const target = withServer(cfg, primary);
    return { target, primary: target, onStandby: false, serverVersionNum: primary.version };
  }
  if (!standby) throw new Error(`database.target.session.attrs is standby, but no server of ${servers} is a hot standby (${seen.join('; ')}); list a standby in database.hosts. See docs/ha.md.`, cause);
  if (standby.version < 160000) throw new Error(`database.target.session.attrs is standby, but ${standby.host}:${standby.port} runs PostgreSQL ${Math.floor(standby.version / 10000)}: logical decoding on a standby needs 16 or later`);
  if (!primary) {
    throw new Error(
      `database.target.session.attrs is standby, but no server of ${servers} is a primary (${seen.join('; ')}): the source needs the primary for publication DDL, heartbeats and creating the slot on the standby. List the primary in database.hosts. See docs/ha.md.`,
      cause,
    );
  }
  return { target: withServer(cfg, standby), primary: withServer(cfg, primary), onStandby: true, serverVersionNum: standby.version };
}

/** Connection settings of every Postgres connection of the source (replication, snapshot, heartbeat, catalog). */
export function clientConfig(cfg: SourceConfig): pg.ClientConfig {
  const ssl = nodeTlsOptions(cfg['database.tls']);
  const server = configuredHosts(cfg)[0]!;
  return {
    host: server.host,
    port: server.port,
    user: cfg['database.user'],
    password: cfg['database.password'],
    database: cfg['database.dbname'],
    application_name: `cdc-fanout:${cfg.name}`,
    ...(ssl ? { ssl } : {}),
  };
}

export interface CapturedTable {
  readonly schema: string;
  readonly table: string;
  readonly oid: number;
  readonly keyColumns: readonly string[];
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
}

export const qualified = (t: { schema: string; table: string }): string => `${t.schema}.${t.table}`;
export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
export const quoteTable = (t: { schema: string; table: string }): string => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** The include/exclude list entries as anchored regular expressions over "schema.table". */
export function patterns(list: string | undefined): RegExp[] {
  if (!list) return [];
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((p) => {
      try {
        return new RegExp(`^(?:${p})$`);
      } catch (e) {
        throw new Error(`table list entry "${p}" is not a valid regular expression: ${(e as Error).message}`);
      }
    });
}

/** The problem with the server's wal_level, or null when it is "logical" (also used by `validate --online`). */
export function walLevelProblem(wal: string | undefined): string | null {
  if (wal === 'logical') return null;
  return `Postgres wal_level is "${wal}", logical decoding needs "logical". Fix: run ALTER SYSTEM SET wal_level = logical; then restart Postgres.`;
}

/** The problem with the user's role, or null when it may replicate (REPLICATION or superuser). */
export function replicationRoleProblem(role: { rolreplication: boolean; rolsuper: boolean } | undefined, user: string): string | null {
  if (role && (role.rolreplication || role.rolsuper)) return null;
  return `Postgres user "${user}" lacks the REPLICATION privilege. Fix: ALTER ROLE ${quoteIdent(user)} WITH REPLICATION;`;
}

/** Fails unless wal_level=logical and the user may replicate. */
export async function checkServer(client: pg.Client, cfg: SourceConfig): Promise<void> {
  const wal = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  const walProblem = walLevelProblem(wal);
  if (walProblem) throw new Error(walProblem);
  const role = (
    await client.query<{ rolreplication: boolean; rolsuper: boolean }>('SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user')
  ).rows[0];
  const roleProblem = replicationRoleProblem(role, cfg['database.user']);
  if (roleProblem) throw new Error(roleProblem);
}

/** Tables matched by the include/exclude lists, with their key columns (start-up: checks and warnings). */
export async function resolveTables(client: pg.Client, cfg: SourceConfig, logger: Logger): Promise<CapturedTable[]> {
  const { tables, unmatched } = await selectTables(client, cfg);
  const [p] = unmatched;
  if (p !== undefined) {
    throw new Error(
      `table.include.list entry "${p}" matches no table in database "${cfg['database.dbname']}". ` +
        `Entries are regular expressions over "schema.table", e.g. "public.orders" or "public\\..*".`,
    );
  }
  await warnTables(client, tables, logger);
  return tables;
}

/**
 * The tables the include/exclude lists select right now, without failing or logging: start-up
 * (resolveTables) and the run-time check for tables that start or stop matching (table-lifecycle.ts)
 * share it. `unmatched` lists the include entries that match no table.
 */
export async function selectTables(client: pg.Client, cfg: SourceConfig): Promise<{ tables: CapturedTable[]; unmatched: string[] }> {
  const res = await client.query<{ schema: string; table: string; oid: number; ident: string; keys: string[] | null }>(`
    SELECT n.nspname AS schema, c.relname AS table, c.oid::int AS oid, c.relreplident AS ident,
           (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum))
              FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = c.oid AND i.indisprimary) AS keys
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     ORDER BY 1, 2`);
  const include = patterns(cfg['table.include.list']);
  const exclude = patterns(cfg['table.exclude.list']);
  const all = res.rows.map((r) => ({
    schema: r.schema,
    table: r.table,
    oid: r.oid,
    keyColumns: r.keys ?? [],
    replicaIdentity: ({ d: 'default', n: 'nothing', f: 'full', i: 'index' } as const)[r.ident as 'd' | 'n' | 'f' | 'i'] ?? 'default',
  }));
  const unmatched = include.filter((p) => !all.some((t) => p.test(qualified(t)))).map((p) => p.source.slice(4, -2));
  const tables = all.filter((t) => (include.length === 0 || include.some((p) => p.test(qualified(t)))) && !exclude.some((p) => p.test(qualified(t))));
  return { tables, unmatched };
}

/** Warnings about captured tables a user should fix (no key, generated columns). */
export async function warnTables(client: pg.Client, tables: readonly CapturedTable[], logger: Logger): Promise<void> {
  for (const t of tables) {
    const problem = replicaIdentityProblem(t);
    if (problem) logger.warn({ table: qualified(t) }, `${problem.message} Fix: ${problem.fix}`);
  }
}

export async function serverVersionNum(client: pg.Client): Promise<number> {
  return Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v ?? 0);
}

/** First version whose pgoutput can publish (stored) generated columns (publication option publish_generated_columns). */
export const GENERATED_COLUMNS_VERSION = 180000;

export interface IdentityProblem {
  /** error: Postgres rejects the table's UPDATEs/DELETEs once it is published; warning: events lack a stable key. */
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly fix: string;
}

/**
 * What updates and deletes of a captured table look like without a primary key or a usable
 * REPLICA IDENTITY. `hasKeyRule`: message.key.columns names its key. Null when fine.
 */
export function replicaIdentityProblem(t: Pick<CapturedTable, 'schema' | 'table' | 'keyColumns' | 'replicaIdentity'>, hasKeyRule = false): IdentityProblem | null {
  const name = qualified(t);
  const fixes = `add a primary key (ALTER TABLE ${quoteTable(t)} ADD PRIMARY KEY (...)), or ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>, or ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY FULL`;
  if (t.replicaIdentity === 'nothing' || (t.replicaIdentity === 'default' && t.keyColumns.length === 0)) {
    return {
      severity: 'error',
      message:
        `table ${name} has ${t.replicaIdentity === 'nothing' ? 'REPLICA IDENTITY NOTHING' : 'no primary key and REPLICA IDENTITY DEFAULT'}: once it is in the publication, Postgres REJECTS its UPDATEs and DELETEs ` +
        `("cannot update table ... because it does not have a replica identity and publishes updates"), so the application writing it breaks; inserts are captured with a null key.`,
      fix: fixes,
    };
  }
  if (t.replicaIdentity === 'full' && t.keyColumns.length === 0 && !hasKeyRule) {
    return {
      severity: 'warning',
      message:
        `table ${name} has no primary key (REPLICA IDENTITY FULL): updates and deletes carry the whole old row, and the event key is every column, ` +
        `so an update changes the key (sinks see the old row deleted and a new one written; Kafka partitions by the whole row).`,
      fix: `add a primary key, or name the key columns in source.message.key.columns ("${name}:<column>[,<column>…]")`,
    };
  }
  return null;
}

/**
 * Whether the publication publishes stored generated columns (PG 18+: publish_generated_columns =
 * stored). Always false before 18. The snapshot (snapshotter `describe`) reads generated columns
 * exactly when this is true, so snapshot rows and streamed changes carry the same columns.
 */
export async function publishesGeneratedColumns(client: pg.Client, publication: string): Promise<boolean> {
  if ((await serverVersionNum(client)) < GENERATED_COLUMNS_VERSION) return false;
  // As text: the snapshot's client parses no types.
  const r = await client.query<{ on: string }>(`SELECT (pubgencols = 's')::text AS on FROM pg_publication WHERE pubname = $1`, [publication]);
  return r.rows[0]?.on === 'true';
}

/**
 * Generated columns that are not captured, named, rather than let them vanish silently from events
 * and sinks: all of them before PG 18 (pgoutput cannot send them); on 18+ the virtual ones (never
 * publishable) and the stored ones when the publication does not publish them.
 */
async function warnGeneratedColumns(client: pg.Client, cfg: SourceConfig, tables: readonly CapturedTable[], logger: Logger): Promise<void> {
  if (tables.length === 0) return;
  const res = await client.query<{ oid: number; stored: string[] | null; virtual: string[] | null }>(
    `SELECT attrelid::int AS oid,
            array_agg(attname::text ORDER BY attnum) FILTER (WHERE attgenerated = 's') AS stored,
            array_agg(attname::text ORDER BY attnum) FILTER (WHERE attgenerated <> 's') AS virtual
       FROM pg_attribute
      WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped AND attgenerated <> '' GROUP BY attrelid`,
    [tables.map((t) => String(t.oid))],
  );
  if (res.rows.length === 0) return;
  const version = await serverVersionNum(client);
  const published = await publishesGeneratedColumns(client, cfg['publication.name']);
  const pub = cfg['publication.name'];
  for (const r of res.rows) {
    const t = tables.find((x) => x.oid === r.oid);
    if (!t) continue;
    const stored = r.stored ?? [];
    const virtual = r.virtual ?? [];
    const why: string[] = [];
    if (version < GENERATED_COLUMNS_VERSION) why.push(`${[...stored, ...virtual].join(', ')}: Postgres before 18 cannot publish generated columns over logical replication`);
    else {
      if (stored.length > 0 && !published) {
        why.push(
          `${stored.join(', ')}: publication "${pub}" does not publish generated columns — ALTER PUBLICATION ${quoteIdent(pub)} SET (publish_generated_columns = stored) (cdc-fanout sets it on the publications it creates)`,
        );
      }
      if (virtual.length > 0) why.push(`${virtual.join(', ')}: VIRTUAL generated columns cannot be published (make them STORED to capture them)`);
    }
    if (why.length === 0) continue;
    logger.warn(
      { table: qualified(t), generatedColumns: [...(published ? [] : stored), ...virtual], serverVersionNum: version },
      `table ${qualified(t)} has generated column(s) that are NOT captured (absent from events and sinks): ${why.join('; ')}. ` +
        'Recompute them downstream from the captured columns, or use a trigger-maintained ordinary column instead.',
    );
  }
}

export const missingPublicationProblem = (name: string): string =>
  `publication "${name}" does not exist and publication.autocreate.mode=disabled. Fix: CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ...; ` +
  `or set publication.autocreate.mode to all_tables or filtered.`;

export const allTablesPublicationProblem = (name: string): string =>
  `publication "${name}" is FOR ALL TABLES but publication.autocreate.mode=filtered; drop it or use another publication.name`;

/** The tables a publication holds now ("schema.table"), or null when it does not exist. */
export async function publishedTables(client: pg.Client, publication: string): Promise<string[] | null> {
  const exists = (await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication])).rows.length > 0;
  if (!exists) return null;
  const r = await client.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1`, [publication]);
  return r.rows.map((x) => x.t);
}

/**
 * Creates or updates the publication according to publication.autocreate.mode, then names the
 * generated columns it does not capture. On PG 18+ a publication it creates publishes stored
 * generated columns (feature-detected by server version).
 */
export async function ensurePublication(client: pg.Client, cfg: SourceConfig, tables: readonly CapturedTable[], logger: Logger): Promise<void> {
  await managePublication(client, cfg, tables, logger);
  await warnGeneratedColumns(client, cfg, tables, logger);
}

async function managePublication(client: pg.Client, cfg: SourceConfig, tables: readonly CapturedTable[], logger: Logger): Promise<void> {
  const withGenerated = (await serverVersionNum(client)) >= GENERATED_COLUMNS_VERSION ? ' WITH (publish_generated_columns = stored)' : '';
  const name = cfg['publication.name'];
  const pub = (await client.query<{ puballtables: boolean }>('SELECT puballtables FROM pg_publication WHERE pubname = $1', [name])).rows[0];
  const mode = cfg['publication.autocreate.mode'];
  if (mode === 'disabled') {
    if (!pub) {
      throw new Error(missingPublicationProblem(name));
    }
    return;
  }
  if (mode === 'all_tables') {
    if (!pub) {
      await client.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR ALL TABLES${withGenerated}`);
      logger.info({ publication: name }, 'created publication FOR ALL TABLES');
    }
    return;
  }
  // filtered: the publication holds exactly the captured tables.
  if (tables.length === 0) throw new Error('publication.autocreate.mode=filtered but the include/exclude lists match no table');
  const list = tables.map(quoteTable).join(', ');
  if (!pub) {
    await client.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list}${withGenerated}`);
    logger.info({ publication: name, tables: tables.length }, 'created filtered publication');
  } else if (pub.puballtables) {
    throw new Error(allTablesPublicationProblem(name));
  } else {
    await client.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`);
  }
}

export interface SlotInfo extends SlotState {
  /** Bytes of WAL that can still be written before the slot is in danger of invalidation (null: unlimited/unknown). */
  readonly safeWalSize: number | null;
}

const noSlot: SlotInfo = { exists: false, activePid: null, confirmedFlushLsn: null, restartLsn: null, walStatus: null, safeWalSize: null, plugin: null, database: null };

export async function slotInfo(client: pg.Client, slot: string): Promise<SlotInfo> {
  const r = (
    await client.query<{ active_pid: number | null; confirmed_flush_lsn: string | null; restart_lsn: string | null; wal_status: string | null; safe_wal_size: string | null; plugin: string; database: string }>(
      `SELECT active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status, safe_wal_size::text, plugin, database
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    )
  ).rows[0];
  if (!r) return noSlot;
  return {
    exists: true,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn ? parseLsn(r.confirmed_flush_lsn) : null,
    restartLsn: r.restart_lsn ? parseLsn(r.restart_lsn) : null,
    walStatus: r.wal_status,
    safeWalSize: r.safe_wal_size === null ? null : Number(r.safe_wal_size),
    plugin: r.plugin,
    database: r.database,
  };
}

/** One poll of the slot against the server's current WAL position (slot health). */
export interface SlotSample extends SlotInfo {
  readonly currentWalLsn: bigint;
}

export async function slotSample(client: pg.Client, slot: string): Promise<SlotSample> {
  // On a standby (decoding there) the WAL position is what it replayed.
  const [info, wal] = await Promise.all([
    slotInfo(client, slot),
    client.query<{ l: string }>('SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS l'),
  ]);
  return { ...info, currentWalLsn: parseLsn(wal.rows[0]!.l) };
}

/** The database system identifier (IDENTIFY_SYSTEM on a replication connection; any REPLICATION user may run it). */
/** Parses a timeline history file: `<parent tli>\t<switch point X/Y>\t<reason>` per line. */
export function parseTimelineHistory(content: string): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const line of content.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m) out.set(Number(m[1]), parseLsn(m[2]!));
  }
  return out;
}

export async function identifySystem(cfg: SourceConfig): Promise<ServerTimeline> {
  const conn = new pg.Client({ ...clientConfig(cfg), replication: 'database' } as pg.ClientConfig);
  conn.on('error', () => undefined); // a server lost while idle fails the next query, not the process
  await conn.connect();
  try {
    const r = await conn.query<{ systemid: string; timeline: number | string; xlogpos: string }>('IDENTIFY_SYSTEM');
    const row = r.rows[0];
    if (!row?.systemid) throw new Error('IDENTIFY_SYSTEM returned no system identifier');
    const timeline = Number(row.timeline);
    let switchPoints = new Map<number, bigint>();
    if (timeline > 1) {
      const h = await conn.query<{ filename: string; content: string | Buffer }>(`TIMELINE_HISTORY ${timeline}`);
      const content = h.rows[0]?.content;
      switchPoints = parseTimelineHistory(content === undefined ? '' : Buffer.isBuffer(content) ? content.toString('utf8') : String(content));
    }
    return { systemId: String(row.systemid), timeline, walEnd: parseLsn(row.xlogpos), switchPoints };
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** Why the existing slot is unusable (active elsewhere, wrong plugin or database); empty when usable or missing. */
export function slotProblems(info: SlotInfo, cfg: SourceConfig): string[] {
  const problems: string[] = [];
  if (!info.exists) return problems;
  if (info.activePid !== null) {
    problems.push(
      `replication slot "${cfg['slot.name']}" is active in another process (pid ${info.activePid}) at confirmed_flush_lsn ${info.confirmedFlushLsn === null ? 'unknown' : formatLsn(info.confirmedFlushLsn)}; another cdc-fanout (or other client) is streaming it. ` +
        `Stop it, or give this connector its own slot.name. (SELECT pg_terminate_backend(${info.activePid}) ends it.)`,
    );
  }
  if (info.plugin !== 'pgoutput') problems.push(`replication slot "${cfg['slot.name']}" uses plugin "${info.plugin}", not pgoutput; drop it or choose another slot.name`);
  if (info.database !== cfg['database.dbname']) {
    problems.push(`replication slot "${cfg['slot.name']}" belongs to database "${info.database}", not "${cfg['database.dbname']}"; choose another slot.name`);
  }
  return problems;
}

/** Fails with a clear message when the slot is unusable (active elsewhere, wrong plugin or db). */
export function checkSlot(info: SlotInfo, cfg: SourceConfig): void {
  const first = slotProblems(info, cfg)[0];
  if (first) throw new Error(first);
}

/** A replication connection holding an exported snapshot; the snapshot lives until close(). */
export interface ExportedSlot {
  readonly consistentPoint: bigint;
  readonly snapshotName: string;
  close(): Promise<void>;
}

/**
 * CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT on a replication connection. The
 * exported snapshot stays importable only while that connection stays open and runs no other
 * command, so the caller keeps it until the snapshot transaction has imported it.
 */
export async function createSlotExportingSnapshot(cfg: SourceConfig): Promise<ExportedSlot> {
  const conn = new pg.Client({ ...clientConfig(cfg), replication: 'database' } as pg.ClientConfig);
  conn.on('error', () => undefined); // a server lost while idle fails the next query, not the process
  await conn.connect();
  try {
    const options = cfg['slot.failover'] ? ` (SNAPSHOT 'export', FAILOVER true)` : ' EXPORT_SNAPSHOT';
    const res = await conn.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(cfg['slot.name'])} LOGICAL pgoutput${options}`);
    const row = res.rows[0];
    if (!row) throw new Error('CREATE_REPLICATION_SLOT returned no row');
    return { consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name, close: () => conn.end() };
  } catch (e) {
    await conn.end().catch(() => undefined);
    throw e;
  }
}

/** Creates the slot without a snapshot (snapshot.mode=never); returns its consistent point. */
export async function createSlot(client: pg.Client, cfg: SourceConfig): Promise<bigint> {
  const r = await client.query<{ lsn: string }>(
    cfg['slot.failover'] ? `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)` : `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
    [cfg['slot.name']],
  );
  return parseLsn(r.rows[0]!.lsn);
}

/** First version with failover slots (pg_create_logical_replication_slot(..., failover), sync_replication_slots). */
export const FAILOVER_SLOTS_VERSION = 170000;

/** Why slot.failover cannot be used on this server, or null. */
export function failoverVersionProblem(versionNum: number): string | null {
  if (versionNum >= FAILOVER_SLOTS_VERSION) return null;
  return (
    `slot.failover needs PostgreSQL 17 or later (the server runs ${Math.floor(versionNum / 10000)}): before 17 a logical slot exists only on the primary, and a failover to a standby loses it. ` +
    `Remove slot.failover; after a failover the source then fails naming the gap, or re-snapshots with snapshot.mode: when_needed (docs/ha.md).`
  );
}

/**
 * slot.failover on an existing slot (PG 17+): turns failover on (ALTER_REPLICATION_SLOT … (FAILOVER
 * true) on a replication connection) when the slot lacks it. Returns whether it changed it.
 */
export async function ensureSlotFailover(client: pg.Client, cfg: SourceConfig): Promise<boolean> {
  if (!cfg['slot.failover']) return false;
  const r = (await client.query<{ failover: boolean }>('SELECT failover FROM pg_replication_slots WHERE slot_name = $1', [cfg['slot.name']])).rows[0];
  if (!r || r.failover) return false;
  const conn = new pg.Client({ ...clientConfig(cfg), replication: 'database' } as pg.ClientConfig);
  conn.on('error', () => undefined); // a server lost while idle fails the next query, not the process
  await conn.connect();
  try {
    await conn.query(`ALTER_REPLICATION_SLOT ${quoteIdent(cfg['slot.name'])} (FAILOVER true)`);
  } finally {
    await conn.end().catch(() => undefined);
  }
  return true;
}

export async function dropSlot(client: pg.Client, slot: string): Promise<void> {
  await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL', [slot]);
}

/**
 * Waits until the standby (`standby`) replayed the primary's (`primary`) current WAL position, e.g. a
 * publication just created there. Bounded: fails after `timeoutMs` naming both positions.
 */
export async function waitForReplay(primary: pg.Client, standby: pg.Client, timeoutMs = 60000): Promise<void> {
  const lsn = (await primary.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await standby.query<{ ok: boolean | null; at: string | null }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok, pg_last_wal_replay_lsn()::text AS at', [lsn])).rows[0];
    if (r?.ok) return;
    if (Date.now() > deadline) throw new Error(`the standby has not replayed the primary's WAL up to ${lsn} within ${timeoutMs / 1000} s (replayed: ${r?.at ?? 'nothing'}): is it streaming from the primary?`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * While a logical slot is created on a standby, Postgres waits for a running-xacts record from the
 * primary (logged every 15 s, or by pg_log_standby_snapshot(), PG 16+). Calls it every 500 ms on the
 * primary until stop().
 */
export function standbySnapshotNudger(primary: pg.Client): { stop(): void } {
  let busy = false;
  const beat = (): void => {
    if (busy) return;
    busy = true;
    primary
      .query('SELECT pg_log_standby_snapshot()')
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  };
  beat();
  const t = setInterval(beat, 500);
  t.unref();
  return { stop: () => clearInterval(t) };
}
