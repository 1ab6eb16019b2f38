/** Config spec of the Redis cache-invalidation sink (every field described; see README "Redis sink"). */
import { z } from 'zod';
import { authField, tlsField, urlTlsProblem } from '../../spec/groups.js';
import { validateTemplates } from './templates.js';

export const redisTableSpec = z
  .object({
    keys: z
      .array(z.string().min(1))
      .min(1)
      .describe('Key templates of the cache entries that depend on a row, e.g. ["user:{id}", "user:email:{email}"]. Keys are computed from both before and after images.'),
    mode: z
      .enum(['invalidate', 'write-through', 'publish'])
      .default('invalidate')
      .describe('"invalidate" UNLINKs the keys; "write-through" SETs the row as JSON at `write.key` (version-guarded) and UNLINKs the other keys; "publish" UNLINKs and also PUBLISHes the keys on `publish.channel`.'),
    'write.key': z
      .string()
      .min(1)
      .optional()
      .describe('write-through: the template of the key that holds the row as JSON (default: the first of `keys`).'),
    'ttl.ms': z.number().int().positive().optional().describe('write-through: expire written rows after this many ms (default: no expiry).'),
    'publish.channel': z
      .string()
      .min(1)
      .default('cdc:invalidations')
      .describe('publish: channel that receives {"table","keys"} JSON messages, one per batch and table.'),
  })
  .strict();

export const redisSinkSpec = z
  .object({
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'use a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0')
      .optional()
      .describe('Redis URL (redis://[user:password@]host:port/db; rediss:// for TLS). Explicit host/port/db and auth fields override its parts.'),
    host: z.string().min(1).optional().describe('Redis host (default 127.0.0.1 when no url).'),
    port: z.number().int().min(1).max(65535).optional().describe('Redis port (default 6379 when no url).'),
    auth: authField('ACL user (Redis 6+) and password; a password alone authenticates as the default user (requirepass).'),
    tls: tlsField('TLS to Redis (redis-server --tls-port); a rediss:// url means TLS too.'),
    db: z.number().int().min(0).max(15).optional().describe('Database index (default 0, or the url path).'),
    tables: z
      .record(z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'write tables as "schema.table", e.g. "public.users"'), redisTableSpec)
      .refine((t) => Object.keys(t).length > 0, 'configure at least one table')
      .optional()
      .describe('Per table ("schema.table"): its key templates and mode. Without `table.default` the sink consumes exactly these tables (changes of others are ignored); with it, these entries override the default for their table.'),
    'table.default': redisTableSpec
      .optional()
      .describe(
        'Key templates and mode for every table of the source\'s selection that has no entry in `tables`: with it (and no `topics`) the sink follows the source\'s table selection, so a table that joins it is cached with no sink edit. `${schema}` and `${table}` in the templates are the table\'s names, e.g. {keys: ["${schema}.${table}:{id}"], mode: write-through}; a `{column}` the table lacks yields no key (write-through: the record is rejected per errors.tolerance).',
      ),
    'truncate.mode': z
      .enum(['ignore', 'invalidate-pattern'])
      .default('ignore')
      .describe(
        'On TRUNCATE: "ignore", or "invalidate-pattern" = SCAN the literal prefix of each of the table\'s templates (e.g. "user:*") and UNLINK the keys older than the truncate (write-through rows written by later changes stay; keys without a version are invalidated); later-arriving older changes of the table are dropped.',
      ),
    'tombstone.ttl.ms': z
      .number()
      .int()
      .positive()
      .default(3_600_000)
      .describe('write-through: how long a deleted row\'s version marker lives, so a late older write cannot resurrect it.'),
    'offsets.key': z
      .string()
      .min(1)
      .optional()
      .describe('Hash holding this sink\'s consumed offsets (field "<topic>:<partition>"); default "cdc:offsets:<group.id>".'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const urlProblem = urlTlsProblem(cfg.url, cfg.tls, 'rediss');
    if (urlProblem) ctx.addIssue({ code: 'custom', path: [urlProblem.field], message: urlProblem.message });
    if (cfg.tables === undefined && cfg['table.default'] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tables'], message: 'set "tables" (key templates per "schema.table") or "table.default" (templates for every table the source captures)' });
    }
    const def = cfg['table.default'];
    if (def) {
      const filled = [...def.keys, ...(def['write.key'] ? [def['write.key']] : [])].map((k) => k.replaceAll('${schema}', 's').replaceAll('${table}', 't'));
      for (const message of validateTemplates('table.default', filled)) ctx.addIssue({ code: 'custom', path: ['table.default'], message });
    }
    for (const [table, t] of Object.entries(cfg.tables ?? {})) {
      const templates = t['write.key'] ? [...t.keys, t['write.key']] : t.keys;
      for (const message of validateTemplates(table, templates)) ctx.addIssue({ code: 'custom', path: ['tables', table], message });
      if (cfg['truncate.mode'] === 'invalidate-pattern') {
        for (const k of templates) {
          if (/^\{(?!\{)/.test(k)) {
            ctx.addIssue({ code: 'custom', path: ['tables', table], message: `table ${table}: key template "${k}" starts with a placeholder, so truncate.mode=invalidate-pattern would SCAN every key; give it a literal prefix (e.g. "user:{id}") or use truncate.mode=ignore` });
          }
        }
      }
    }
  });

export type RedisSinkConfig = z.infer<typeof redisSinkSpec>;
export type RedisTableConfig = z.infer<typeof redisTableSpec>;
