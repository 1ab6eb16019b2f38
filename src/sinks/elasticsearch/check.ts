/**
 * Online check of the Elasticsearch sink: the cluster answers (version) and accepts the
 * credentials; every consumed table gets a valid index name from index.name.template; the per-table
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
