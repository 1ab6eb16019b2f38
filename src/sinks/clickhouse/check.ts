/**
 * Online check of the ClickHouse sink: the server answers (version), accepts the credentials and
 * lets them write (not a read-only session);
 * for every consumed table, the target table the sink would write (table.name.format /
 * table.overrides) either exists with the sink's columns and the event key's columns, or can be
 * created (table.create, a key for upsert mode); table.overrides name consumed tables. Messages are
 * the ones the sink raises at run time (./tables.ts).
 */
import { type ComponentReport, type Finding, isUnreachable, networkReason, seconds, withDeadline } from '../../check/online.js';
import type { SinkCheckContext } from '../plugin.js';
import type { ClickHouseConfig } from './config.js';
import { Conn } from './conn.js';
import { quoteString } from './encode.js';
import { featuresOf } from './server.js';
import { keylessUpsertMessage, missingMetaMessage, missingTableMessage, REQUIRED_META, TableManager } from './tables.js';

export async function checkClickHouse(config: ClickHouseConfig, ctx: SinkCheckContext): Promise<ComponentReport> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const u = new URL(config.url);
  const target = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  const conn = new Conn({ url: config.url, username: config.auth?.username ?? 'default', password: config.auth?.password ?? '', tls: config.tls, requestTimeoutMs: ctx.timeoutMs });
  let version: string | null = null;
  let tables: TableManager | undefined;
  try {
    const v = (await withDeadline(`ClickHouse at ${target}`, ctx.timeoutMs, conn.queryJson<{ v: string }>('SELECT version() AS v', 'version check')))[0]?.v ?? '0.0';
    version = `ClickHouse ${v}`;
    tables = new TableManager(conn, config, featuresOf(v), undefined);
    // Write access: a read-only session (the user's settings profile, or readonly in the URL) could
    // not create the database and tables or insert; the sink would fail on its first batch.
    const ro = await withDeadline('ClickHouse', ctx.timeoutMs, conn.queryJson<{ value: string }>("SELECT value FROM system.settings WHERE name = 'readonly'", 'readonly check'));
    const readonly = ro[0]?.value ?? '0';
    if (readonly !== '0') {
      const user = config.auth?.username ?? 'default';
      findings.push({
        severity: 'error',
        path: [...ctx.path, config.auth?.username !== undefined ? 'auth' : 'url'],
        message: `ClickHouse at ${target} runs user "${user}"'s queries read-only (readonly=${readonly}): the sink could not create database ${config.database} and its tables, or insert`,
        fix: `use a user whose settings profile has readonly=0 (and no readonly setting in url), or with SQL access control GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, ALTER, INSERT, SELECT ON ${config.database}.* TO ${user}`,
      });
    }
    const db = await withDeadline('ClickHouse', ctx.timeoutMs, conn.queryJson<{ n: string | number }>(`SELECT count() AS n FROM system.databases WHERE name = ${quoteString(config.database)}`));
    if (Number(db[0]?.n ?? 0) === 0) notes.push(`database ${config.database} will be created`);
  } catch (err) {
    const text = networkReason((err as { cause?: unknown }).cause ?? err);
    if (/\b(516|192|193)\b|Authentication failed|password is incorrect|Unknown user/i.test(text + String((err as Error).message))) {
      findings.push({ severity: 'error', path: [...ctx.path, 'auth', 'password'], message: `ClickHouse at ${target} refused user "${config.auth?.username ?? 'default'}": ${text}`, fix: 'check auth.username and auth.password' });
    } else {
      const unreachable = isUnreachable(err) || isUnreachable((err as { cause?: unknown }).cause) || /ECONNREFUSED|timeout/i.test(String((err as Error).message));
      findings.push({
        severity: 'error',
        path: [...ctx.path, 'url'],
        message: unreachable ? `ClickHouse at ${target} unreachable within ${seconds(ctx.timeoutMs)} (${text})` : `ClickHouse at ${target} failed: ${text}`,
        fix: 'check the sink\'s url, and that ClickHouse runs and is reachable from here (HTTP port, default 8123)',
      });
    }
  }

  try {
    const consumed = new Set(ctx.tables);
    for (const source of Object.keys(config['table.overrides'])) {
      if (!consumed.has(source)) findings.push({ severity: 'warning', path: [...ctx.path, 'table.overrides', source], message: `table.overrides configures ${source}, which this sink does not consume: the override has no effect`, fix: 'correct the table name or remove the entry' });
    }
    for (const source of ctx.tables) {
      const rel = ctx.catalog?.relations.get(source);
      if (!rel) continue;
      const mode = config['table.overrides'][source]?.mode ?? config.mode;
      if (mode === 'changelog') continue;
      const name = config['table.overrides'][source]?.['table.name'] ?? config['table.name.format'].replaceAll('{schema}', rel.schema).replaceAll('{table}', rel.table);
      const path = config['table.overrides'][source] ? [...ctx.path, 'table.overrides', source] : [...ctx.path, 'mode'];
      if (!tables) continue; // ClickHouse did not answer (reported above)
      const existing = await withDeadline('ClickHouse', ctx.timeoutMs, tables.readColumns(name));
      if (existing === null) {
        if (!config['table.create']) findings.push({ severity: 'error', path: [...ctx.path, 'table.create'], message: missingTableMessage(config.database, name, source) });
        else if (rel.eventKey.length === 0) findings.push({ severity: 'error', path, message: keylessUpsertMessage(source) });
        continue;
      }
      const missingMeta = REQUIRED_META.filter((m) => !existing.columns.some((c) => c.name === m));
      if (missingMeta.length) findings.push({ severity: 'error', path, message: missingMetaMessage(config.database, name, missingMeta) });
      const have = new Set(existing.columns.map((c) => c.name));
      const missingKey = rel.eventKey.filter((k) => !have.has(k));
      if (missingKey.length) {
        findings.push({ severity: 'error', path, message: `ClickHouse table ${config.database}.${name} has no column for key field(s) ${missingKey.join(', ')} of ${source} (the event key is ${rel.eventKey.join(', ')})`, fix: `add the column(s) and make them the ORDER BY key, or recreate the table (drop it; the sink creates it from the source with table.create: true)` });
      }
      const missingData = rel.columns.filter((c) => !c.generated && !have.has(c.name) && !rel.eventKey.includes(c.name)).map((c) => c.name);
      if (missingData.length && config['schema.evolution'] === 'none') {
        findings.push({ severity: 'warning', path: [...ctx.path, 'schema.evolution'], message: `ClickHouse table ${config.database}.${name} lacks ${missingData.join(', ')} of ${source}, and schema.evolution is none: those values are dropped`, fix: 'add the columns, or set schema.evolution: basic (the sink adds them)' });
      } else if (missingData.length) notes.push(`${name}: ${missingData.length} column(s) will be added`);
    }
  } catch (err) {
    findings.push({ severity: 'error', path: [...ctx.path, 'url'], message: `reading ClickHouse tables at ${target} failed: ${networkReason(err)}` });
  } finally {
    await conn.close().catch(() => undefined);
  }
  notes.push(`${ctx.tables.length} table${ctx.tables.length === 1 ? '' : 's'}`);
  return { component: `sink ${ctx.sinkName} (clickhouse)`, target, version, notes, findings };
}
