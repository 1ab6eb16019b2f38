/**
 * Online check of the Elasticsearch sink: the cluster answers (version), accepts the
 * credentials and (with security enabled) grants them create_index, write and read on the sink's
 * indices; every consumed table gets a valid index name from index.name.template; the per-table
 * settings (table.overrides: fields.include / fields.exclude / fields.rename, index.mappings.file) name tables the
 * sink consumes and columns those tables have — a misspelt column would silently index nothing there.
 */
import { Client, errors } from '@elastic/elasticsearch';
import { type ComponentReport, type Finding, isUnreachable, networkReason, seconds, withDeadline } from '../../check/online.js';
import { unknownColumns } from '../check-support.js';
import type { SinkCheckContext } from '../plugin.js';
import { renderIndexName, validateIndexName } from './naming.js';
import { clientOptions } from './sink.js';
import type { ElasticsearchConfig } from './spec.js';

/** What the sink does: create its indices, index and delete documents, read them back (mget, stale checks). */
const INDEX_PRIVILEGES = ['create_index', 'write', 'read'] as const;

/** The indices the sink writes: one per consumed table (valid names only) and the checkpoint index. */
function indexNames(config: ElasticsearchConfig, ctx: SinkCheckContext): string[] {
  const out = new Set<string>([config['checkpoint.index']]);
  for (const table of ctx.tables) {
    const [schema = '', name = ''] = table.split(/\.(.*)/s);
    const index = renderIndexName(config['index.name.template'], { prefix: ctx.topicPrefix, db: ctx.database, schema, table: name, topic: ctx.topicOf(table) });
    if (typeof index === 'string' && validateIndexName(index) === null) out.add(index);
  }
  return [...out];
}

/**
 * The privileges the credentials lack (security's _has_privileges), or undefined when they have all
 * of them — or when the cluster has no security (then anyone may write; the API answers an error).
 */
async function missingPrivileges(client: Client, indices: readonly string[], timeoutMs: number): Promise<{ user: string; missing: string[] } | undefined> {
  let r;
  try {
    r = await withDeadline('Elasticsearch', timeoutMs, client.security.hasPrivileges({ cluster: ['monitor'], index: [{ names: [...indices], privileges: [...INDEX_PRIVILEGES] }] }));
  } catch {
    return undefined;
  }
  if (r.has_all_requested) return undefined;
  const missing: string[] = [];
  if (r.cluster.monitor === false) missing.push('cluster: monitor');
  for (const [index, privileges] of Object.entries(r.index)) {
    const lack = Object.entries(privileges).filter(([, ok]) => !ok).map(([p]) => p);
    if (lack.length > 0) missing.push(`${index}: ${lack.join(', ')}`);
  }
  return missing.length > 0 ? { user: r.username, missing } : undefined;
}

export async function checkElasticsearch(config: ElasticsearchConfig, ctx: SinkCheckContext): Promise<ComponentReport> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const u = new URL(config.url);
  const target = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  let version: string | null = null;
  const client = new Client({ ...clientOptions(config), requestTimeout: ctx.timeoutMs, maxRetries: 0 });
  try {
    const info = await withDeadline(`Elasticsearch at ${target}`, ctx.timeoutMs, client.info(), () => client.close());
    version = `Elasticsearch ${info.version.number}`;
    const major = Number(info.version.number.split('.')[0]);
    if (major < 8) findings.push({ severity: 'warning', path: [...ctx.path, 'url'], message: `${version}: the sink is built and tested for Elasticsearch 8`, fix: 'upgrade the cluster to 8.x' });
    const lacking = await missingPrivileges(client, indexNames(config, ctx), ctx.timeoutMs);
    if (lacking) {
      findings.push({
        severity: 'error',
        path: [...ctx.path, config.auth !== undefined ? 'auth' : 'url'],
        message: `Elasticsearch user "${lacking.user}" lacks privileges the sink needs: ${lacking.missing.join('; ')}`,
        fix: `grant its role the index privileges ${INDEX_PRIVILEGES.join(', ')} on the sink's indices and ${config['checkpoint.index']}, and the cluster privilege monitor`,
      });
    }
  } catch (err) {
    const status = err instanceof errors.ResponseError ? err.statusCode : undefined;
    if (status === 401) {
      const field = config.auth?.['api.key'] !== undefined ? ['auth', 'api.key'] : config.auth?.username !== undefined ? ['auth', 'password'] : ['url'];
      findings.push({ severity: 'error', path: [...ctx.path, ...field], message: `Elasticsearch at ${target} refused the credentials (401)`, fix: 'set auth.username/auth.password or auth.api.key to a user the cluster knows' });
    } else if (status === 403) {
      findings.push({ severity: 'error', path: [...ctx.path, 'url'], message: `Elasticsearch at ${target} refused the request (403): the user lacks the monitor privilege`, fix: 'grant the sink\'s user the cluster "monitor" privilege and "write", "create_index", "read" on its indices' });
    } else {
      // The client's own request timeout and the check's deadline both mean: connected, no answer.
      const reason = err instanceof errors.TimeoutError ? 'no answer' : networkReason(err);
      findings.push({
        severity: 'error',
        path: [...ctx.path, 'url'],
        message: isUnreachable(err) || err instanceof errors.TimeoutError ? `Elasticsearch at ${target} unreachable within ${seconds(ctx.timeoutMs)} (${reason})` : `Elasticsearch at ${target} failed: ${reason}`,
        fix: 'check the sink\'s url, and that Elasticsearch runs and is reachable from here',
      });
    }
  } finally {
    await client.close().catch(() => undefined);
  }

  for (const table of ctx.tables) {
    const [schema = '', name = ''] = table.split(/\.(.*)/s);
    const index = renderIndexName(config['index.name.template'], { prefix: ctx.topicPrefix, db: ctx.database, schema, table: name, topic: ctx.topicOf(table) });
    const problem = typeof index === 'string' ? validateIndexName(index) : index.error;
    if (problem) findings.push({ severity: 'error', path: [...ctx.path, 'index.name.template'], message: `index.name.template gives no valid index name for ${table}: ${problem}`, fix: 'change the template (the result is lower-cased)' });
  }

  const consumed = new Set(ctx.tables);
  for (const [table, o] of Object.entries(config['table.overrides'])) {
    const path = [...ctx.path, 'table.overrides', table];
    if (!consumed.has(table)) {
      findings.push({ severity: 'warning', path, message: `table.overrides configures ${table}, which this sink does not consume (tables: ${[...consumed].join(', ') || 'none'}): the setting has no effect`, fix: 'correct the table name or remove the entry' });
      continue;
    }
    const perTable: [string, readonly string[]][] = [
      ['fields.include', o['fields.include'] ?? []],
      ['fields.exclude', o['fields.exclude'] ?? []],
      ['fields.rename', Object.keys(o['fields.rename'] ?? {})],
    ];
    for (const [field, columns] of perTable) {
      if (columns.length > 0) findings.push(...unknownColumns(ctx.catalog, table, columns, [...path, field], `${field} of ${table}`, 'name existing columns (the document holds the row\'s columns)'));
    }
  }
  notes.push(`${ctx.tables.length} table${ctx.tables.length === 1 ? '' : 's'}`);
  return { component: `sink ${ctx.sinkName} (elasticsearch)`, target, version, notes, findings };
}
