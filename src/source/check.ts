/**
 * Online check of the Postgres source (`cdc-fanout validate --online`): connects read-only (every
 * statement in a read-only transaction, each connection and query bounded by the check timeout)
 * and reports every problem at once, each with its fix. It reuses the source's own start-up rules
 * (connection.ts: wal_level, REPLICATION role, publication, slot usability, replica identity;
 * slot-health.ts: an invalidated slot; slot-ownership.ts: whose slot it is) instead of restating
 * them, so `validate --online` and `run` cannot disagree.
 *
 * It also returns what it read of the catalog (every relation with its columns and keys), which
 * the sinks' online checks use to verify the columns their templates and key settings name.
 */
import pg from 'pg';
import { didYouMean } from '../spec/did-you-mean.js';
import { formatLsn } from '../events/change.js';
import { parseMessageKeyColumns } from '../events/keys.js';
import { type CatalogColumn, type CatalogTable, type ComponentReport, type Finding, type RelationKind, type SourceCatalogView, isUnreachable, networkReason, seconds, withDeadline } from '../check/online.js';
import type { KafkaConfig } from '../kafka/config.js';
import { kafkaClient } from '../kafka/client.js';
import { readPipelineState } from '../kafka/offsets-store.js';
import { offsetsTopic, type SourceConfig } from './config.js';
import {
  allTablesPublicationProblem,
  clientConfig,
  configuredHosts,
  identifySystem,
  missingPublicationProblem,
  patterns,
  quoteIdent,
  quoteTable,
  replicaIdentityProblem,
  replicationRoleProblem,
  resolveServers,
  type ResolvedServers,
  slotInfo,
  slotProblems,
  slotSample,
  walLevelProblem,
  withServer,
} from './connection.js';
import { type HaProblem, PRIMARY_HA_SQL, primaryFailoverProblems, primaryHaSettings, type PrimaryHaRow, STANDBY_HA_SQL, standbyHaSettings, type StandbyHaRow, standbyProblems } from './ha-settings.js';
import { SlotHealthTracker } from './slot-health.js';
import { ownershipInput, planSlot, SlotGapError, SlotOwnershipError } from './slot-ownership.js';

export interface SourceCheckInput {
  readonly config: SourceConfig;
  /** Used to read the pipeline's offsets topic for the slot ownership check (skipped when Kafka does not answer). */
  readonly kafka?: KafkaConfig;
  readonly timeoutMs: number;
}

export interface SourceCheckResult {
  readonly report: ComponentReport;
  /** Null when the database could not be read (then the sinks' column checks are skipped). */
  readonly catalog: SourceCatalogView | null;
}

const P = (...p: (string | number)[]): readonly (string | number)[] => ['source', ...p];

const KINDS: Record<string, RelationKind> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence' };
const IDENT = { d: 'default', n: 'nothing', f: 'full', i: 'index' } as const;

interface RelationRow {
  schema: string;
  table: string;
  kind: string;
  ident: 'd' | 'n' | 'f' | 'i';
  parent: string | null;
  owned: boolean;
  can_select: boolean;
  pk: string[] | null;
  ident_cols: string[] | null;
  columns: CatalogColumn[] | null;
}

const relationsSql = (generated: boolean): string => `
  SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, c.relreplident AS ident,
         (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits h JOIN pg_class pc ON pc.oid = h.inhparent
            JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE h.inhrelid = c.oid AND c.relispartition LIMIT 1) AS parent,
         pg_has_role(c.relowner, 'USAGE') AS owned,
         has_table_privilege(c.oid, 'SELECT') AS can_select,
         (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
         (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND i.indisreplident) AS ident_cols,
         (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'generated', ${generated ? "a.attgenerated <> ''" : 'false'}) ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
   ORDER BY 1, 2`;

interface ServerRow {
  version: string;
  version_num: string;
  wal_level: string;
  max_slots: number;
  max_senders: number;
  used_slots: number;
  used_senders: number;
  rolreplication: boolean | null;
  rolsuper: boolean | null;
  can_create: boolean;
  user: string;
}

const SERVER_SQL = `
  SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num,
         current_setting('wal_level') AS wal_level,
         current_setting('max_replication_slots')::int AS max_slots, current_setting('max_wal_senders')::int AS max_senders,
         (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int AS used_senders,
         (SELECT rolreplication FROM pg_roles WHERE rolname = current_user) AS rolreplication,
         (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS rolsuper,
         has_database_privilege(current_database(), 'CREATE') AS can_create, current_user AS user`;

/** A connection failure in words, with the config fields to check. */
function connectFinding(err: unknown, cfg: SourceConfig, target: string, timeoutMs: number): Finding {
  const code = (err as { code?: unknown } | null)?.code;
  const user = cfg['database.user'];
  if (code === '28P01') return { severity: 'error', path: P('database.password'), message: `Postgres at ${target} refused the password of user "${user}"`, fix: 'set source.database.password (e.g. ${PGPASSWORD})' };
  if (code === '28000') return { severity: 'error', path: P('database.user'), message: `Postgres at ${target} refused user "${user}": ${networkReason(err)}`, fix: 'check source.database.user, and that pg_hba.conf allows this host, user and database' };
  if (code === '3D000') return { severity: 'error', path: P('database.dbname'), message: `database "${cfg['database.dbname']}" does not exist on ${cfg['database.hostname']}:${cfg['database.port']}`, fix: 'check source.database.dbname' };
  if (isUnreachable(err) || /timeout/i.test(networkReason(err))) {
    return {
      severity: 'error',
      path: P('database.hostname'),
      message: `Postgres at ${cfg['database.hostname']}:${cfg['database.port']} unreachable within ${seconds(timeoutMs)} (${networkReason(err)})`,
      fix: 'check source.database.hostname and source.database.port, and that Postgres is running and reachable from here',
    };
  }
  return { severity: 'error', path: P('database.hostname'), message: `cannot connect to Postgres at ${target}: ${networkReason(err)}` };
}

function eventKeyOf(t: RelationRow, rules: ReturnType<typeof parseMessageKeyColumns>): string[] {
  const name = `${t.schema}.${t.table}`;
  const rule = rules.find((r) => r.table.test(name));
  if (rule) return [...rule.columns];
  // As pgoutput flags key columns (relations.ts): the identity's columns, the primary key for FULL.
  if (t.ident === 'n') return [];
  if (t.ident === 'i') return t.ident_cols ?? [];
  if (t.pk?.length) return t.pk;
  if (t.ident === 'f') return (t.columns ?? []).map((c) => c.name);
  return [];
}

const list = (names: readonly string[], max = 10): string => (names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', '));

export async function checkSource(input: SourceCheckInput): Promise<SourceCheckResult> {
  let cfg = input.config;
  const ms = input.timeoutMs;
  const findings: Finding[] = [];
  const notes: string[] = [];
  // database.hosts / a standby target: check the server `run` would pick (as `run` does).
  let servers: ResolvedServers | null = null;
  if (cfg['database.hosts'] || cfg['database.target.session.attrs'] === 'standby') {
    try {
      servers = await resolveServers(cfg, ms);
      cfg = servers.target;
      notes.push(`${servers.onStandby ? 'decoding on standby' : 'primary'} ${cfg['database.hostname']}:${cfg['database.port']}`);
    } catch (err) {
      findings.push({ severity: 'error', path: P(cfg['database.hosts'] ? 'database.hosts' : 'database.hostname'), message: (err as Error).message });
      return { report: { component: 'postgres', target: cfg['database.hosts'] ?? cfg['database.hostname'], version: null, notes, findings }, catalog: null };
    }
  }
  const target = `${cfg['database.hostname']}:${cfg['database.port']}/${cfg['database.dbname']}`;
  const report = (version: string | null): ComponentReport => ({ component: 'postgres', target, version, notes, findings });
  const client = new pg.Client({
    ...clientConfig(cfg),
    application_name: `cdc-fanout-check:${cfg.name}`,
    connectionTimeoutMillis: ms,
    query_timeout: ms,
    statement_timeout: ms,
    // Belt and braces: nothing this check runs may write.
    options: '-c default_transaction_read_only=on',
  } as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await withDeadline(`Postgres at ${cfg['database.hostname']}:${cfg['database.port']}`, ms, client.connect(), () => client.end());
  } catch (err) {
    findings.push(connectFinding(err, cfg, target, ms));
    await client.end().catch(() => undefined);
    return { report: report(null), catalog: null };
  }
  try {
    const q = <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> => withDeadline('Postgres', ms, client.query<R>(sql, values));
    const server = (await q<ServerRow>(SERVER_SQL)).rows[0] as ServerRow;
    const version = `PostgreSQL ${server.version.split(' ')[0]}`;
    const versionNum = Number(server.version_num);
    if (versionNum < 100000) findings.push({ severity: 'error', message: `${version} has no pgoutput logical decoding (needs PostgreSQL 10 or later)`, fix: 'upgrade Postgres' });

    const wal = walLevelProblem(server.wal_level);
    if (wal) findings.push({ severity: 'error', message: wal.replace(/ Fix: .*$/, ''), fix: 'ALTER SYSTEM SET wal_level = logical; then restart Postgres' });
    const role = replicationRoleProblem(server.rolreplication === null ? undefined : { rolreplication: server.rolreplication, rolsuper: server.rolsuper ?? false }, cfg['database.user']);
    if (role) findings.push({ severity: 'error', path: P('database.user'), message: role.replace(/ Fix: .*$/, ''), fix: `ALTER ROLE ${quoteIdent(server.user)} WITH REPLICATION; (as a superuser)` });
    const superuser = server.rolsuper === true;

    // Relations and what the include/exclude lists select.
    let rules: ReturnType<typeof parseMessageKeyColumns> = [];
    try {
      rules = parseMessageKeyColumns(cfg['message.key.columns']);
    } catch {
      // reported by the static check
    }
    const rows = (await q<RelationRow>(relationsSql(versionNum >= 120000))).rows;
    const include = patterns(cfg['table.include.list']);
    const exclude = patterns(cfg['table.exclude.list']);
    const capturable = (r: RelationRow): boolean => (r.kind === 'r' || r.kind === 'p') && r.parent === null;
    const selected = (name: string): boolean => (include.length === 0 || include.some((p) => p.test(name))) && !exclude.some((p) => p.test(name));
    const relations = new Map<string, CatalogTable>();
    for (const r of rows) {
      const name = `${r.schema}.${r.table}`;
      relations.set(name, {
        name,
        schema: r.schema,
        table: r.table,
        kind: KINDS[r.kind] ?? 'other',
        partitionOf: r.parent,
        columns: r.columns ?? [],
        primaryKey: r.pk ?? [],
        replicaIdentity: IDENT[r.ident] ?? 'default',
        identityColumns: r.ident === 'f' ? (r.columns ?? []).map((c) => c.name) : r.ident === 'i' ? (r.ident_cols ?? []) : r.ident === 'd' ? (r.pk ?? []) : [],
        eventKey: eventKeyOf(r, rules),
        captured: capturable(r) && selected(name),
      });
    }
    const captured = rows.filter((r) => capturable(r) && selected(`${r.schema}.${r.table}`));
    const tableNames = rows.filter(capturable).map((r) => `${r.schema}.${r.table}`);

    // Every include-list entry must select at least one table; say what it selects instead.
    const entries = (cfg['table.include.list'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    entries.forEach((entry, i) => {
      const re = include[i];
      if (!re) return;
      const matched = rows.filter((r) => re.test(`${r.schema}.${r.table}`));
      if (matched.some(capturable)) return;
      const path = P('table.include.list');
      if (matched.length === 0) {
        const literal = entry.replace(/\\\./g, '.');
        const hint = didYouMean(literal, tableNames);
        findings.push({
          severity: 'error',
          path,
          message: `table.include.list entry "${entry}" matches no table in database "${cfg['database.dbname']}"${hint ? `; did you mean "${hint}"?` : ''}`,
          fix: 'create the table, or correct the entry (entries are regular expressions over "schema.table", e.g. "public\\.orders")',
        });
        return;
      }
      for (const r of matched) {
        const name = `${r.schema}.${r.table}`;
        if (r.parent) {
          findings.push({ severity: 'error', path, message: `${name} (table.include.list entry "${entry}") is a partition of ${r.parent}: partitions are captured through their partitioned table`, fix: `list ${r.parent} instead` });
        } else {
          const kind = KINDS[r.kind] ?? 'relation';
          findings.push({
            severity: 'error',
            path,
            message: `${name} (table.include.list entry "${entry}") is a ${kind}, not a table: logical replication captures tables only, so it would never produce events`,
            fix: `capture the table(s) it reads from instead${r.kind === 'f' ? ' (on the server that holds them)' : ''}, or remove the entry`,
          });
        }
      }
    });
    if (captured.length === 0 && entries.length === 0) findings.push({ severity: 'error', path: P('table.exclude.list'), message: `the source captures no table of database "${cfg['database.dbname']}"`, fix: 'create tables, or loosen table.exclude.list' });

    // Keys and replica identity; read access; generated columns.
    for (const r of captured) {
      const name = `${r.schema}.${r.table}`;
      const hasRule = rules.some((x) => x.table.test(name));
      const ident = replicaIdentityProblem({ schema: r.schema, table: r.table, keyColumns: r.pk ?? [], replicaIdentity: IDENT[r.ident] ?? 'default' }, hasRule);
      if (ident) findings.push({ severity: ident.severity, path: P(cfg['table.include.list'] ? 'table.include.list' : 'table.exclude.list'), message: ident.message, fix: ident.fix });
      const generated = (r.columns ?? []).filter((c) => c.generated).map((c) => c.name);
      if (generated.length) {
        findings.push({ severity: 'warning', message: `table ${name} has generated column(s) ${generated.join(', ')}: they are not captured (absent from events and sinks)`, fix: 'recompute them downstream, or use a trigger-maintained ordinary column' });
      }
    }
    const unreadable = captured.filter((r) => !r.can_select);
    if (unreadable.length) {
      findings.push({
        severity: 'error',
        path: P('database.user'),
        message: `user "${server.user}" may not SELECT from ${list(unreadable.map((r) => `${r.schema}.${r.table}`))}: the snapshot cannot read ${unreadable.length === 1 ? 'it' : 'them'}`,
        fix: `GRANT SELECT ON ${unreadable.slice(0, 5).map((r) => quoteTable(r)).join(', ')}${unreadable.length > 5 ? ', ...' : ''} TO ${quoteIdent(server.user)};`,
      });
    }
    // message.key.columns names columns of the tables it matches.
    for (const rule of rules) {
      const matched = captured.filter((r) => rule.table.test(`${r.schema}.${r.table}`));
      const shown = rule.table.source.slice(4, -2);
      if (matched.length === 0) {
        findings.push({ severity: 'warning', path: P('message.key.columns'), message: `message.key.columns entry "${shown}" matches no captured table`, fix: 'correct the table part (a regular expression over "schema.table") or remove the entry' });
        continue;
      }
      for (const r of matched) {
        const cols = (r.columns ?? []).map((c) => c.name);
        for (const c of rule.columns.filter((x) => !cols.includes(x))) {
          const hint = didYouMean(c, cols);
          findings.push({
            severity: 'error',
            path: P('message.key.columns'),
            message: `message.key.columns: table ${r.schema}.${r.table} has no column "${c}"${hint ? `; did you mean "${hint}"?` : ''} (columns: ${list(cols, 20)}); the source would fail on its first change`,
            fix: 'name existing columns in the entry for this table',
          });
        }
      }
    }

    await checkPublication(q, cfg, captured, rows, superuser, server, findings);
    await checkSlot(q, client, cfg, { ...input, ...(role ? { kafka: undefined } : {}) }, server, findings, notes);
    await checkHa(input.config, servers, versionNum, ms, findings, notes);

    notes.unshift(`wal_level=${server.wal_level}`, `${captured.length} table${captured.length === 1 ? '' : 's'} captured`);
    return { report: report(version), catalog: { relations } };
  } catch (err) {
    findings.push({ severity: 'error', message: `reading the catalog of ${target} failed: ${networkReason(err)}` });
    return { report: report(null), catalog: null };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A read-only connection to one server, bounded by the check timeout. */
async function readOnly<R extends pg.QueryResultRow>(cfg: SourceConfig, sql: string, ms: number): Promise<R | undefined> {
  const c = new pg.Client({ ...clientConfig(cfg), application_name: `cdc-fanout-check:${cfg.name}`, connectionTimeoutMillis: ms, query_timeout: ms, options: '-c default_transaction_read_only=on' } as pg.ClientConfig);
  c.on('error', () => undefined);
  try {
    await withDeadline(`Postgres at ${cfg['database.hostname']}:${cfg['database.port']}`, ms, c.connect(), () => c.end());
    return (await withDeadline('Postgres', ms, c.query<R>(sql))).rows[0];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * High availability (docs/ha.md): slot.failover → the primary's settings (PG 17+, a physical slot,
 * synchronized_standby_slots) and every standby of database.hosts (sync_replication_slots,
 * hot_standby_feedback, primary_slot_name, dbname in primary_conninfo); decoding on a standby → its
 * settings; standbys listed without failover slots → what a failover does.
 */
async function checkHa(configured: SourceConfig, servers: ResolvedServers | null, versionNum: number, ms: number, findings: Finding[], notes: string[]): Promise<void> {
  const push = (path: string, p: HaProblem): void => void findings.push({ severity: p.severity, path: P(path), message: p.message, fix: p.fix });
  if (servers?.onStandby) {
    const row = await readOnly<StandbyHaRow>(servers.target, STANDBY_HA_SQL, ms).catch(() => undefined);
    if (row) for (const p of standbyProblems(standbyHaSettings(`${servers.target['database.hostname']}:${servers.target['database.port']}`, row), 'decode')) push('database.target.session.attrs', p);
  }
  const primary = servers?.primary ?? configured;
  const others = configuredHosts(configured).filter((h) => h.host !== primary['database.hostname'] || h.port !== primary['database.port']);
  const standbys: { name: string; row: StandbyHaRow }[] = [];
  for (const h of others) {
    const row = await readOnly<StandbyHaRow & { rec: boolean }>(withServer(configured, h), `${STANDBY_HA_SQL}, pg_is_in_recovery() AS rec`, ms).catch(() => undefined);
    if (row?.rec) standbys.push({ name: `${h.host}:${h.port}`, row });
  }
  if (configured['slot.failover']) {
    const row = await readOnly<PrimaryHaRow>(primary, PRIMARY_HA_SQL, ms).catch(() => undefined);
    if (row) for (const p of primaryFailoverProblems(primaryHaSettings(row))) push('slot.failover', p);
    if (versionNum >= 170000) {
      if (standbys.length === 0) {
        findings.push({
          severity: 'warning',
          path: P('database.hosts'),
          message: 'slot.failover is on, but database.hosts lists no reachable standby: after a failover the source would not find the promoted standby (and its settings cannot be checked)',
          fix: 'list the primary and every standby that may be promoted in database.hosts, e.g. "pg-a:5432,pg-b:5432"',
        });
      }
      for (const s of standbys) for (const p of standbyProblems(standbyHaSettings(s.name, s.row), 'failover')) push('slot.failover', p);
    }
  } else if (standbys.length > 0 && !servers?.onStandby) {
    findings.push({
      severity: 'warning',
      path: P('slot.failover'),
      message:
        versionNum >= 170000
          ? `database.hosts lists standby(s) (${standbys.map((s) => s.name).join(', ')}) but slot.failover is off: after a failover the slot is missing on the new primary, and the source stops naming the gap (or re-snapshots with snapshot.mode: when_needed)`
          : `database.hosts lists standby(s) (${standbys.map((s) => s.name).join(', ')}), but PostgreSQL ${Math.floor(versionNum / 10000)} has no failover slots: after a failover the slot is missing on the new primary, and the source stops naming the gap (or re-snapshots with snapshot.mode: when_needed)`,
      fix: versionNum >= 170000 ? 'set slot.failover: true (and the settings in docs/ha.md)' : 'use snapshot.mode: when_needed to re-snapshot after a failover, or upgrade to 17 for failover slots',
    });
  }
  if (standbys.length) notes.push(`standbys: ${standbys.map((s) => s.name).join(', ')}`);
}

type Query = <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

/** The publication per publication.autocreate.mode: present or creatable, covering the captured tables, and what it takes to create or alter it. */
async function checkPublication(q: Query, cfg: SourceConfig, captured: readonly RelationRow[], all: readonly RelationRow[], superuser: boolean, server: ServerRow, findings: Finding[]): Promise<void> {
  const name = cfg['publication.name'];
  const mode = cfg['publication.autocreate.mode'];
  const path = P('publication.name');
  const pub = (
    await q<{ puballtables: boolean; pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean; owned: boolean }>(
      `SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pg_has_role(pubowner, 'USAGE') AS owned FROM pg_publication WHERE pubname = $1`,
      [name],
    )
  ).rows[0];
  const user = quoteIdent(server.user);
  const notOwned = captured.filter((r) => !r.owned).map((r) => `${r.schema}.${r.table}`);
  if (!pub) {
    if (mode === 'disabled') findings.push({ severity: 'error', path: P('publication.autocreate.mode'), message: missingPublicationProblem(name).replace(/ Fix: .*$/, ''), fix: `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ...; or set publication.autocreate.mode to all_tables or filtered` });
    if (mode === 'all_tables' && !superuser) {
      findings.push({ severity: 'error', path: P('publication.autocreate.mode'), message: `publication "${name}" does not exist, and creating it FOR ALL TABLES (publication.autocreate.mode=all_tables) needs a superuser; user "${server.user}" is not one`, fix: `create it as a superuser (CREATE PUBLICATION ${quoteIdent(name)} FOR ALL TABLES;), or set publication.autocreate.mode: filtered` });
    }
    if (mode === 'filtered' && !superuser) {
      if (!server.can_create) findings.push({ severity: 'error', path: P('database.user'), message: `publication "${name}" does not exist and user "${server.user}" lacks CREATE on database "${cfg['database.dbname']}" to create it`, fix: `GRANT CREATE ON DATABASE ${quoteIdent(cfg['database.dbname'])} TO ${user}; or create the publication yourself and set publication.autocreate.mode: disabled` });
      if (notOwned.length) findings.push({ severity: 'error', path: P('database.user'), message: `user "${server.user}" does not own ${list(notOwned)}, so it cannot add them to publication "${name}"`, fix: 'create the publication as their owner (and set publication.autocreate.mode: disabled), or run the source as the tables\' owner' });
    }
  } else {
    if (mode === 'filtered' && pub.puballtables) findings.push({ severity: 'error', path, message: allTablesPublicationProblem(name) });
    if (mode === 'filtered' && !pub.puballtables && !superuser) {
      if (!pub.owned) findings.push({ severity: 'error', path, message: `publication "${name}" is not owned by user "${server.user}", who must ALTER it (publication.autocreate.mode=filtered sets its table list at every start)`, fix: `ALTER PUBLICATION ${quoteIdent(name)} OWNER TO ${user}; or set publication.autocreate.mode: disabled` });
      if (notOwned.length) findings.push({ severity: 'error', path: P('database.user'), message: `user "${server.user}" does not own ${list(notOwned)}, so it cannot set them as publication "${name}"'s tables`, fix: 'run the source as the tables\' owner, or manage the publication yourself (publication.autocreate.mode: disabled)' });
    }
    if (mode !== 'filtered' && !pub.puballtables) {
      const published = new Set((await q<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1`, [name])).rows.map((r) => r.t));
      const missing = captured.map((r) => `${r.schema}.${r.table}`).filter((t) => !published.has(t));
      if (missing.length) {
        findings.push({
          severity: 'error',
          path,
          message: `publication "${name}" does not include ${list(missing)} (publication.autocreate.mode=${mode} leaves an existing publication as it is): the snapshot reads ${missing.length === 1 ? 'it, but its' : 'them, but their'} later changes never reach Kafka`,
          fix: `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.slice(0, 3).map((t) => quoteTable({ schema: t.split('.')[0] as string, table: t.split('.').slice(1).join('.') })).join(', ')}${missing.length > 3 ? ', ...' : ''}; or set publication.autocreate.mode: filtered`,
        });
      }
    }
    const off = (['insert', 'update', 'delete', 'truncate'] as const).filter((op) => !pub[`pub${op}`]);
    if (off.length) findings.push({ severity: 'warning', path, message: `publication "${name}" does not publish ${off.join(', ')}s: those changes never reach Kafka and the sinks`, fix: `ALTER PUBLICATION ${quoteIdent(name)} SET (publish = 'insert, update, delete, truncate');` });
  }
  // FOR ALL TABLES covers tables the pipeline does not capture too: without a replica identity their UPDATEs/DELETEs fail.
  if ((mode === 'all_tables' && !pub) || pub?.puballtables) {
    const capturedNames = new Set(captured.map((r) => `${r.schema}.${r.table}`));
    const broken = all
      .filter((r) => (r.kind === 'r' || r.kind === 'p') && r.parent === null && !capturedNames.has(`${r.schema}.${r.table}`))
      .filter((r) => replicaIdentityProblem({ schema: r.schema, table: r.table, keyColumns: r.pk ?? [], replicaIdentity: IDENT[r.ident] ?? 'default' })?.severity === 'error')
      .map((r) => `${r.schema}.${r.table}`);
    if (broken.length) {
      findings.push({
        severity: 'error',
        path: P('publication.autocreate.mode'),
        message: `publication "${name}" is FOR ALL TABLES, so it also covers ${list(broken)} (not captured), which have no primary key and no replica identity: Postgres rejects their UPDATEs and DELETEs`,
        fix: 'set publication.autocreate.mode: filtered (and use a publication holding only the captured tables), or give those tables a primary key or REPLICA IDENTITY',
      });
    }
  }
}

/** The replication slot: usable, not invalidated, owned by this pipeline; room for a new slot and a WAL sender. */
async function checkSlot(q: Query, client: pg.Client, cfg: SourceConfig, input: SourceCheckInput, server: ServerRow, findings: Finding[], notes: string[]): Promise<void> {
  const slotName = cfg['slot.name'];
  const path = P('slot.name');
  const info = await withDeadline('Postgres', input.timeoutMs, slotInfo(client, slotName));
  if (!info.exists) {
    notes.push(`slot ${slotName} will be created`);
    if (server.used_slots >= server.max_slots) {
      findings.push({ severity: 'error', path, message: `replication slot "${slotName}" does not exist and all ${server.max_slots} slots (max_replication_slots) are in use, so it cannot be created`, fix: 'drop an unused slot (SELECT pg_drop_replication_slot(...)), or raise max_replication_slots and restart Postgres' });
    }
  } else {
    notes.push(`slot ${slotName} exists (${info.activePid === null ? 'inactive' : `active pid ${info.activePid}`}, confirmed_flush_lsn ${info.confirmedFlushLsn === null ? 'unknown' : formatLsn(info.confirmedFlushLsn)})`);
    let problems = slotProblems(info, cfg);
    if (info.activePid !== null) {
      const app = (await q<{ app: string }>('SELECT application_name AS app FROM pg_stat_activity WHERE pid = $1', [info.activePid])).rows[0]?.app ?? '';
      if (app === `cdc-fanout:${cfg.name}`) {
        problems = problems.filter((p) => !p.includes('is active in another process'));
        findings.push({ severity: 'warning', path, message: `replication slot "${slotName}" is being streamed by pid ${info.activePid} (application_name "${app}"): this pipeline is running; a second \`run\` would fail until it stops` });
      }
    }
    for (const p of problems) findings.push({ severity: 'error', path, message: p });
    const verdict = new SlotHealthTracker(slotName, { lagWarnBytes: cfg['slot.lag.warn.bytes'], lagWarnMs: 0 }).observe(await withDeadline('Postgres', input.timeoutMs, slotSample(client, slotName)));
    if (verdict.fatal && cfg['snapshot.mode'] !== 'when_needed') findings.push({ severity: 'error', path, message: verdict.fatal });
    for (const w of verdict.health.warnings) findings.push({ severity: 'warning', path, message: w });
    // Ownership needs a replication connection (IDENTIFY_SYSTEM): skipped when the role may not replicate (reported above).
    if (input.kafka) await checkOwnership(cfg, input.kafka, info, input.timeoutMs, findings, notes);
  }
  const needed = 1;
  if (server.max_senders - server.used_senders < needed) {
    findings.push({ severity: 'error', message: `no free WAL sender: ${server.used_senders} of max_wal_senders=${server.max_senders} are in use, and streaming needs one`, fix: 'raise max_wal_senders (restart Postgres), or stop an idle replication client' });
  }
  if (!info.exists && server.max_slots - server.used_slots === 1) notes.push('the last free replication slot');
}

/**
 * Whose slot it is (slot-ownership.ts's planSlot, fed from the offsets topic): a slot another
 * pipeline owns, or one confirmed past what this pipeline published, is an error `run` would raise.
 */
async function checkOwnership(cfg: SourceConfig, kafkaConfig: KafkaConfig, slot: Awaited<ReturnType<typeof slotInfo>>, ms: number, findings: Finding[], notes: string[]): Promise<void> {
  const kafka = kafkaClient({ ...kafkaConfig, 'connection.timeout.ms': Math.min(kafkaConfig['connection.timeout.ms'], ms), 'request.timeout.ms': Math.min(kafkaConfig['request.timeout.ms'], ms) }, { retry: { retries: 0 } });
  const admin = kafka.admin();
  const topic = offsetsTopic(cfg);
  try {
    await withDeadline('Kafka', ms, admin.connect(), () => admin.disconnect());
    const topics = await withDeadline('Kafka', ms, admin.listTopics());
    let state = { offset: null, owner: null, otherOwners: [], tables: null } as Awaited<ReturnType<typeof readPipelineState>>;
    if (topics.includes(topic)) {
      const offsets = await withDeadline('Kafka', ms, admin.fetchTopicOffsets(topic));
      const high = offsets.reduce((m, p) => (BigInt(p.high) > m ? BigInt(p.high) : m), 0n);
      state = await readPipelineState(kafka, topic, cfg.name, high, ms * 2);
    }
    const server = await withDeadline('Postgres (replication connection)', ms, identifySystem(cfg));
    const plan = planSlot(ownershipInput(cfg, server, slot, state));
    notes.push(...plan.notes.map((n) => `run would: ${n}`));
  } catch (err) {
    if (err instanceof SlotOwnershipError || err instanceof SlotGapError) findings.push({ severity: 'error', path: P('slot.name'), message: err.message });
    else findings.push({ severity: 'warning', path: P('slot.name'), message: `slot ownership not checked: could not read the offsets topic "${topic}" (${networkReason(err)})` });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
