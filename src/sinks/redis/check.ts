/**
 * Online check of the Redis sink: the server answers (version), the credentials are accepted, and
 * every key template names columns its table has (validateTemplates, now with the real column list —
 * a template naming a missing column would otherwise compute no key and invalidate nothing, silently).
 * A template on a non-key column of a table without REPLICA IDENTITY FULL is a warning: the old
 * value is not in the change event, so the old key of an updated or deleted row stays cached.
 */
import { Redis } from 'ioredis';
import { type ComponentReport, type Finding, isUnreachable, networkReason, seconds, withDeadline } from '../../check/online.js';
import type { SinkCheckContext } from '../plugin.js';
import { redisOptions } from './sink.js';
import type { RedisSinkConfig } from './spec.js';
import { parseTemplate, validateTemplates } from './templates.js';

export async function checkRedis(config: RedisSinkConfig, ctx: SinkCheckContext): Promise<ComponentReport> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const { url, options } = redisOptions(config);
  const where = url ? new URL(url) : undefined;
  const target = `${where?.hostname ?? '127.0.0.1'}:${where?.port || 6379}`;
  let version: string | null = null;

  const opts = { ...options, lazyConnect: true, connectTimeout: ctx.timeoutMs, commandTimeout: ctx.timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false };
  const redis = url ? new Redis(url, opts) : new Redis(opts);
  let lastError: Error | undefined;
  redis.on('error', (e: Error) => (lastError = e));
  try {
    await withDeadline(`Redis at ${target}`, ctx.timeoutMs, redis.connect(), () => redis.disconnect());
    const info = await withDeadline(`Redis at ${target}`, ctx.timeoutMs, redis.info('server'));
    version = `Redis ${/redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown version'}`;
  } catch (err) {
    const e = lastError ?? err;
    const text = e instanceof Error ? e.message : String(e);
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(text)) {
      findings.push({ severity: 'error', path: [...ctx.path, ...(config.auth?.password !== undefined ? ['auth', 'password'] : ['url'])], message: `Redis at ${target} refused the credentials: ${text.split('\n')[0]}`, fix: 'check the sink\'s auth.username/auth.password (or the user:password in url)' });
    } else {
      const unreachable = isUnreachable(e) || isUnreachable(err);
      findings.push({
        severity: 'error',
        path: [...ctx.path, 'url'],
        message: unreachable ? `Redis at ${target} unreachable within ${seconds(ctx.timeoutMs)} (${networkReason(e)})` : `Redis at ${target} failed: ${networkReason(e)}`,
        fix: 'check the sink\'s url, and that Redis runs and is reachable from here',
      });
    }
  } finally {
    redis.disconnect();
  }

  // Templates against the captured columns (the catalog), whether or not Redis answered.
  for (const [table, t] of Object.entries(config['table.overrides'])) {
    const rel = ctx.catalog?.relations.get(table);
    if (!rel) continue;
    const columns = rel.columns.map((c) => c.name);
    const templates = t['write.key'] ? [...t.keys, t['write.key']] : t.keys;
    const path = [...ctx.path, 'table.overrides', table];
    for (const message of validateTemplates(table, templates, columns)) findings.push({ severity: 'error', path, message: `${message}: no key would be computed from it, so nothing is ${t.mode === 'write-through' ? 'written or ' : ''}invalidated`, fix: 'name existing columns in the template' });
    if (rel.replicaIdentity === 'full') continue;
    const identity = new Set(rel.identityColumns);
    for (const source of templates) {
      let cols: readonly string[];
      try {
        cols = parseTemplate(source).columns;
      } catch {
        continue;
      }
      const nonKey = cols.filter((c) => columns.includes(c) && !identity.has(c));
      if (nonKey.length === 0) continue;
      findings.push({
        severity: 'warning',
        path,
        message: `key template "${source}" uses ${nonKey.join(', ')}, not part of ${table}'s replica identity (REPLICA IDENTITY ${rel.replicaIdentity.toUpperCase()}): updates and deletes do not carry the old value, so the key of the old value stays cached when it changes or the row is deleted`,
        fix: `ALTER TABLE ${table} REPLICA IDENTITY FULL; or use templates on key columns only`,
      });
    }
  }
  const count = config.tables?.length ?? Object.keys(config['table.overrides']).length;
  notes.push(`${count} table${count === 1 ? '' : 's'}`);
  return { component: `sink ${ctx.sinkName} (redis)`, target, version, notes, findings };
}
