/**
 * Config spec of the Elasticsearch sink. Every field is declared once here (type, default,
 * validation, description); the TypeScript type, the JSON Schema and the docs derive from it.
 */
import { z } from 'zod';
import { authField, authGroup, authVariant, requestTimeoutField, tableOverridesField, tlsField, truncateModeField, urlField, urlTlsProblem } from '../../spec/groups.js';
import { secret } from '../../spec/secret.js';
import { renderIndexName, validateIndexName } from './naming.js';

/** The shared auth group plus `api.key` (Elasticsearch API keys), one of the two ways. */
const esAuthGroup = authVariant(
  authGroup
    .extend({
      'api.key': secret(z.string().min(1))
        .optional()
        .describe('API key (base64 "id:key" as Kibana shows it); instead of username/password.'),
    })
    .superRefine((a, ctx) => {
      const hasUser = a.username !== undefined;
      if (hasUser !== (a.password !== undefined)) ctx.addIssue({ code: 'custom', path: [hasUser ? 'password' : 'username'], message: 'set both username and password, or neither' });
      if (hasUser && a['api.key'] !== undefined) ctx.addIssue({ code: 'custom', path: ['api.key'], message: 'use either api.key or username/password, not both' });
      if (!hasUser && a.password === undefined && a['api.key'] === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'auth is empty: set username and password, or api.key (or remove auth)' });
    }),
  'adds `api.key`; username and password go together',
);

/** Per-table settings of the Elasticsearch sink (`table.overrides.<schema.table>`). */
export const elasticsearchTableSpec = z
  .object({
    'fields.include': z.array(z.string().min(1)).min(1).optional().describe('The only source columns copied into the document.'),
    'fields.exclude': z.array(z.string().min(1)).min(1).optional().describe('Source columns left out of the document.'),
    'fields.rename': z.record(z.string().min(1), z.string().min(1)).optional().describe('Source column → document field renames (applied after include/exclude).'),
    'index.mappings.file': z.string().min(1).optional().describe('JSON mappings file for this table\'s index; overrides the sink-wide index.mappings.file.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t['fields.include'] && t['fields.exclude']) ctx.addIssue({ code: 'custom', path: ['fields.exclude'], message: 'fields.include and fields.exclude are both set; use one' });
  });

export const elasticsearchSpec = z
  .object({
    url: urlField(['http', 'https'], 'http://127.0.0.1:9200', 'https:// for TLS (see `tls`).'),
    auth: authField('Basic auth (username and password) or an API key (`api.key`); omit for none.', esAuthGroup),
    tls: tlsField('TLS to Elasticsearch (`url` must be https://): the cluster\'s CA (e.g. config/certs/http_ca.crt), client certificate.'),
    'request.timeout.ms': requestTimeoutField(30_000, 'bulk, mget, …'),
    'index.name.template': z
      .string()
      .min(1)
      .default('{prefix}.{schema}.{table}')
      .describe(
        'Index name per table; placeholders {prefix} (topic.prefix), {db}, {schema}, {table}, {topic}. ' +
          'The result is lower-cased and must be a valid Elasticsearch index name.',
      ),
    'index.settings.file': z
      .string()
      .min(1)
      .optional()
      .describe('JSON file with index settings applied when the sink creates an index (object of settings, or {"settings": {...}}).'),
    'index.mappings.file': z
      .string()
      .min(1)
      .optional()
      .describe('JSON file with index mappings applied when the sink creates an index (object with "properties", or {"mappings": {...}}).'),
    'index.gc.deletes': z
      .string()
      .regex(/^\d+(ms|s|m|h|d)$/, 'a time value such as "1d", "12h" or "60s"')
      .default('1d')
      .describe(
        'index.gc_deletes set on indices the sink creates: how long a delete tombstone keeps its version. ' +
          'An event older than a delete replayed after this long could resurrect the document.',
      ),
    'document.id.separator': z
      .string()
      .min(1)
      .default('|')
      .describe(
        'Separator between key values in the document _id of a composite key (a single-column key is its value ' +
          'as a string). Backslashes and separators inside values are escaped with a backslash, so ids are unambiguous.',
      ),
    'table.overrides': tableOverridesField(elasticsearchTableSpec, 'which columns the document holds (fields.include / fields.exclude / fields.rename) and the index mappings file.'),
    'source.field': z
      .string()
      .min(1)
      .optional()
      .describe('If set, the Debezium `source` metadata block is stored under this document field; by default it is not stored.'),
    'source.url': z
      .string()
      .optional()
      .describe(
        'Postgres URL of the source database, used only to read the catalog (column attnums and ADD COLUMN … DEFAULT values) ' +
          'so a RENAME COLUMN becomes a rename of the field and documents not changed since an ADD COLUMN … DEFAULT get the default ' +
          '(docs/schema-evolution.md). Default: the pipeline\'s own source connection; with neither, schema changes only reach documents written later.',
      ),
    'truncate.mode': truncateModeField(['delete', 'ignore'], 'delete', 'delete = delete every document of the table\'s index whose version is not newer than the truncate; ignore = keep them.'),
    'checkpoint.index': z
      .string()
      .min(1)
      .default('cdc-fanout-checkpoints')
      .describe('Index holding one offsets document per (sink, topic, partition); created on open.'),
    'bulk.max.bytes': z
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 * 1024)
      .describe('Largest bulk request body; a bigger batch is sent as several bulk requests, in order.'),
    'bulk.collapse': z
      .boolean()
      .default(true)
      .describe(
        'Send only the last change per document of a batch (fewer bulk items; equal-or-greater versions win anyway). ' +
          'Set false to send every change in order.',
      ),
    refresh: z
      .enum(['false', 'true', 'wait_for'])
      .default('false')
      .describe('Bulk `refresh` parameter: false (default, fastest), wait_for (writes visible to search when acked), or true.'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const urlProblem = urlTlsProblem(config.url, config.tls, 'https');
    if (urlProblem) ctx.addIssue({ code: 'custom', path: [urlProblem.field], message: urlProblem.message });
    const sample = renderIndexName(config['index.name.template'], { prefix: 'prefix', db: 'db', schema: 'schema', table: 'table', topic: 'topic' });
    const problem = typeof sample === 'string' ? validateIndexName(sample) : sample.error;
    if (problem) {
      ctx.addIssue({ code: 'custom', path: ['index.name.template'], message: `index.name.template does not give a valid index name: ${problem}` });
    }
    const checkpointProblem = validateIndexName(config['checkpoint.index']);
    if (checkpointProblem) ctx.addIssue({ code: 'custom', path: ['checkpoint.index'], message: checkpointProblem });
  });

export type ElasticsearchConfig = z.infer<typeof elasticsearchSpec>;
