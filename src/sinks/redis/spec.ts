/** Config spec of the Redis cache-invalidation sink (every field described; see README "Redis sink"). */
import { z } from 'zod';
import { authField, tableOverridesField, tablesField, tlsField, truncateModeField, urlField, urlTlsProblem } from '../../spec/groups.js';
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
    url: urlField(['redis', 'rediss'], 'redis://127.0.0.1:6379/0', 'redis://[user:password@]host:port/db; rediss:// for TLS (see `tls`). The `auth` fields override the URL\'s user and password.'),
    auth: authField('ACL user (Redis 6+) and password; a password alone authenticates as the default user (requirepass).'),
    tls: tlsField('TLS to Redis (redis-server --tls-port); a rediss:// url means TLS too.'),
    tables: tablesField,
    'table.overrides': tableOverridesField(redisTableSpec, 'its key templates and mode (`keys`, `mode`, …). A table in `tables` without an entry here uses `table.default`.'),
    'table.default': redisTableSpec
      .optional()
      .describe(
        'Key templates and mode for every consumed table without an entry in `table.overrides`: with it and no `tables` (or `topics`) the sink follows the source\'s table selection, so a table that joins it is cached with no sink edit. `{schema}` and `{table}` in its templates are the table\'s names (not columns), e.g. {keys: ["{schema}.{table}:{id}"], mode: write-through}; a `{column}` the table lacks yields no key (write-through: the record is rejected per errors.tolerance).',
      ),
    'truncate.mode': truncateModeField(
      ['ignore', 'delete'],
      'ignore',
      'ignore = leave the keys; delete = SCAN the literal prefix of each of the table\'s templates (e.g. "user:*") and UNLINK the keys older than the truncate (write-through rows written by later changes stay; keys without a version are invalidated); later-arriving older changes of the table are dropped.',
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
    'generation.key': z
      .string()
      .min(1)
      .optional()
      .describe(
        'write-through: the generation pointer key (docs/rebuild.md): when it exists, the rows live under the key namespace it holds ("<namespace>:<write key>") and readers look it up first; `cdc-fanout rebuild` flips it. Absent (no rebuild yet): rows live at the plain write keys. Default "cdc:generation:<group.id>".',
      ),
    'generation.namespace': z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only')
      .optional()
      .describe('Set by `cdc-fanout rebuild` on the instance that builds a new generation (leave unset): write only the write-through rows, into this namespace instead of the one `generation.key` points to, with no invalidations or publishes.'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const urlProblem = urlTlsProblem(cfg.url, cfg.tls, 'rediss');
    if (urlProblem) ctx.addIssue({ code: 'custom', path: [urlProblem.field], message: urlProblem.message });
    const overrides = cfg['table.overrides'];
    if (cfg.tables === undefined && cfg['table.default'] === undefined) {
      const named = Object.keys(overrides);
      ctx.addIssue({
        code: 'custom',
        path: Object.keys(overrides).length > 0 ? ['table.overrides'] : ['tables'],
        message: `set "tables" (the tables to consume, e.g. tables: [${named.join(', ') || 'public.users'}]; key templates per table in table.overrides) or "table.default" (templates for every table the source captures)`,
      });
    }
    const def = cfg['table.default'];
    if (def) {
      const filled = [...def.keys, ...(def['write.key'] ? [def['write.key']] : [])].map((k) => k.replaceAll('{schema}', 's').replaceAll('{table}', 't'));
      for (const message of validateTemplates('table.default', filled)) ctx.addIssue({ code: 'custom', path: ['table.default'], message });
      if (cfg['truncate.mode'] === 'delete') for (const k of def.keys) if (startsWithPlaceholder(k.replaceAll('{schema}', 's').replaceAll('{table}', 't'))) ctx.addIssue({ code: 'custom', path: ['table.default'], message: noPrefix('table.default', k) });
    }
    cfg.tables?.forEach((table, i) => {
      if (!overrides[table] && !def) ctx.addIssue({ code: 'custom', path: ['tables', i], message: `table ${table} has no key templates: add table.overrides: { ${table}: { keys: ["…:{id}"] } }, or set table.default` });
    });
    for (const [table, t] of Object.entries(overrides)) {
      const templates = t['write.key'] ? [...t.keys, t['write.key']] : t.keys;
      for (const message of validateTemplates(table, templates)) ctx.addIssue({ code: 'custom', path: ['table.overrides', table], message });
      if (cfg['truncate.mode'] === 'delete') {
        for (const k of templates) if (startsWithPlaceholder(k)) ctx.addIssue({ code: 'custom', path: ['table.overrides', table], message: noPrefix(`table ${table}`, k) });
      }
    }
  });

const startsWithPlaceholder = (k: string): boolean => /^\{(?!\{)/.test(k);
const noPrefix = (where: string, k: string): string =>
  `${where}: key template "${k}" starts with a placeholder, so truncate.mode=delete would SCAN every key; give it a literal prefix (e.g. "user:{id}") or use truncate.mode=ignore`;

export type RedisSinkConfig = z.infer<typeof redisSinkSpec>;
export type RedisTableConfig = z.infer<typeof redisTableSpec>;
