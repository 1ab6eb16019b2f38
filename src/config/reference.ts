/**
 * Renders the config reference (Markdown) from the schema: every field with its name, type,
 * default and description, plus the `run` command's daemon flags. scripts/gen-config-reference.ts
 * writes it to docs/config-reference.md (the README links there).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { ConfigComponents } from './components.js';
import { defOf } from '../spec/describe-schema.js';
import { authGroup, fieldGroups, retryShape, tableOverridesField, tablesField, tlsGroup } from '../spec/groups.js';
import { isSecretKey, isSecretSchema } from '../spec/secret.js';

export interface FieldDoc {
  readonly path: string;
  readonly type: string;
  /** JSON of the default, `undefined` when none. */
  readonly default?: string | undefined;
  readonly required: boolean;
  readonly description: string | undefined;
  readonly secret: boolean;
}

/** First description found walking from the outer wrapper inwards. */
function descriptionOf(schema: z.ZodType): string | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s && i < 16; i++) {
    if (s.description) return s.description;
    const d = defOf(s);
    s = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
  }
  return undefined;
}

interface Unwrapped {
  readonly core: z.ZodType;
  readonly optional: boolean;
  readonly default?: unknown;
  readonly hasDefault: boolean;
}

function unwrapField(schema: z.ZodType): Unwrapped {
  let s = schema;
  let optional = false;
  let hasDefault = false;
  let dflt: unknown;
  for (let i = 0; i < 16; i++) {
    const d = defOf(s) as ReturnType<typeof defOf> & { defaultValue?: unknown };
    if (d.type === 'optional' || d.type === 'nullable') optional = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      hasDefault = true;
      dflt = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
    } else if (d.type === 'pipe') {
      s = d.in as z.ZodType;
      continue;
    } else if (d.type !== 'readonly') break;
    s = d.innerType as z.ZodType;
  }
  return { core: s, optional, hasDefault, default: dflt };
}

const GROUPS = { tls: tlsGroup, auth: authGroup } as const;

export function typeOf(schema: z.ZodType): string {
  const { core } = unwrapField(schema);
  const d = defOf(core) as ReturnType<typeof defOf> & { valueType?: z.ZodType; checks?: { _zod: { def: { check: string; format?: string } } }[]; format?: string };
  switch (d.type) {
    case 'string': {
      const fmt = d.format ?? d.checks?.map((c) => c._zod.def.format).find(Boolean);
      return fmt && fmt !== 'regex' ? `string (${fmt})` : 'string';
    }
    case 'number': {
      const int = d.checks?.some((c) => c._zod.def.format === 'safeint' || c._zod.def.check === 'number_format') || (core as z.ZodNumber).isInt;
      return int ? 'integer' : 'number';
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values((d as unknown as { entries: Record<string, string> }).entries).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return (d.values ?? []).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'array':
      return `${d.element ? typeOf(d.element) : 'unknown'}[]`;
    case 'record':
      return `map of ${d.valueType ? typeOf(d.valueType) : 'unknown'}`;
    case 'object':
      return 'object';
    case 'union':
      return (d.options ?? []).map((o) => typeOf(o)).join(' \\| ');
    default:
      return d.type;
  }
}

/** Flattens an object schema into field docs (nested objects as `a.b`, maps as `a.<key>.b`). */
export function fieldsOf(schema: z.ZodObject, prefix = ''): FieldDoc[] {
  const out: FieldDoc[] = [];
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const u = unwrapField(field);
    // A shared group is documented once, in its own section; a use shows only what a variant adds.
    const group = fieldGroups.get(u.core);
    out.push({
      path,
      type: group ? `${group.group} group` : typeOf(field),
      default: u.hasDefault ? JSON.stringify(u.default) : undefined,
      required: !u.optional && !u.hasDefault,
      description: group?.variant ? `${descriptionOf(field) ?? ''} This use: ${group.variant}.` : descriptionOf(field),
      secret: isSecretSchema(field) || isSecretKey(key),
    });
    if (group) {
      const base = Object.keys(GROUPS[group.group].shape);
      out.push(...fieldsOf(u.core as z.ZodObject, path).filter((f) => !base.includes(f.path.slice(path.length + 1))));
      continue;
    }
    const d = defOf(u.core) as ReturnType<typeof defOf> & { valueType?: z.ZodType };
    if (d.type === 'object') out.push(...fieldsOf(u.core as z.ZodObject, path));
    if (d.type === 'record' && d.valueType && defOf(unwrapField(d.valueType).core).type === 'object') out.push(...fieldsOf(unwrapField(d.valueType).core as z.ZodObject, `${path}.<key>`));
    if (d.type === 'array' && d.element && defOf(unwrapField(d.element).core).type === 'object') out.push(...fieldsOf(unwrapField(d.element).core as z.ZodObject, `${path}[]`));
  }
  return out;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function table(fields: readonly FieldDoc[]): string {
  const rows = fields.map((f) => {
    const dflt = f.required ? '**required**' : f.default === 'the pipeline `name`' ? f.default : f.default !== undefined ? `\`${cell(f.default).replace(/`/g, "'")}\`` : '—';
    const desc = `${cell(f.description ?? '')}${f.secret ? ' *Secret: redacted in logs, errors and the status API.*' : ''}`;
    return `| \`${f.path}\` | ${f.type.replace(/\n/g, ' ')} | ${dflt} | ${desc} |`;
  });
  return ['| Property | Type | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

/** Every documented field, by section (used by the "every field has a description" test). */
export function referenceSections(c: ConfigComponents): { title: string; intro: string; fields: FieldDoc[] }[] {
  const top: FieldDoc[] = [
    { path: 'name', type: 'string', required: true, description: 'Pipeline name, unique across the daemon; used in the admin API, metrics labels and CLI commands. Also the default of `source.name`.', secret: false },
    { path: 'source', type: 'object', required: true, description: 'The Postgres source connector and the event options (below).', secret: false },
    { path: 'kafka', type: 'object', required: true, description: 'Kafka cluster the source publishes to and the sinks consume from (below).', secret: false },
    { path: 'sinks', type: 'sink[]', default: '[]', required: false, description: 'Sinks fed from the pipeline\'s topics, each supervised independently; `type` selects the fields below.', secret: false },
  ];
  const common = fieldsOf(c.sinkCommon).filter((f) => f.path !== 'type');
  return [
    { title: 'Pipeline file', intro: 'One file (YAML or JSON) describes one pipeline. `cdc-fanout run --config <dir>` runs every `*.yaml`, `*.yml` and `*.json` file of a directory.', fields: top },
    {
      title: 'Shared field groups: `tls`',
      intro:
        'TLS of one connection, the same fields for every service: `source.database.tls` (Postgres), `kafka.tls`, and `tls` of the elasticsearch, clickhouse and redis sinks. Absent: plaintext; `tls: {}`: TLS verified against the system CAs. Certificates and keys are PEM text (e.g. `${file:certs/ca.pem}`, relative to the config file) or an absolute path to a PEM file; `validate` reads and parses them, checks that `cert` and `key` belong together, and names the field when one is missing, unreadable or not PEM.',
      fields: fieldsOf(tlsGroup),
    },
    {
      title: 'Shared field groups: `auth`',
      intro:
        'User name and password: `auth` of the elasticsearch (plus `api.key`), clickhouse and redis sinks, and `kafka.sasl` (both required, plus `mechanism`). Postgres keeps Debezium\'s `database.user` / `database.password`. Use `${ENV}` or `${file:/path}` for the password.',
      fields: fieldsOf(authGroup),
    },
    {
      title: 'Shared field groups: `tables` and `table.overrides`',
      intro:
        'The one table selector of every sink type. `tables` lists the tables a sink consumes as exact "schema.table" names (the source selects with `table.include.list` / `table.exclude.list`: regular expressions over the same "schema.table" names, as a list or Debezium\'s comma-separated string); absent (and no `topics`), the sink follows the source\'s selection. Per-table settings are never part of the selector: they go under `table.overrides`, keyed "schema.table", in every sink type — only what is inside an entry differs (elasticsearch: `fields.include`, `fields.exclude`, `fields.rename`, `index.mappings.file`; clickhouse: `mode`, `table.name`; redis: `keys`, `mode`, `write.key`, `ttl.ms`, `publish.channel`). An entry must name a consumed table. The shapes of earlier releases (a Redis `tables` map, Elasticsearch `fields.*` / `index.mappings.files` maps) are errors that show the new shape. `topics` (Kafka topic names) remains for a `topic.routing.template` that does not give one topic per table.',
      fields: fieldsOf(z.object({ tables: tablesField, 'table.overrides': tableOverridesField(z.object({}).describe('per sink type'), 'see each sink type.') })).filter((f) => !f.path.includes('<key>')),
    },
    {
      title: 'Shared field groups: connection (`url`, `request.timeout.ms`)',
      intro:
        'Every sink names its server by one `url` (elasticsearch, clickhouse, webhook: http:// or https://; redis: redis:// or rediss://, with the database index as the path), required — nothing defaults to a development address — plus `tls` and `auth` above. HTTP sinks have `request.timeout.ms` (a timeout is a retriable error). Earlier names (`connection.url`, Redis `host` / `port` / `db`) are errors that say what to write. Postgres and Kafka keep their Debezium / Kafka property names (`database.hostname`…, `bootstrap.servers`).',
      fields: [],
    },
    {
      title: 'Shared field groups: retry',
      intro:
        'Backoff between attempts, the same three fields wherever something is retried: `errors.retry.*` of every sink (a batch after a transient sink error; never given up, the partition waits) and `retry.*` of the webhook sink (one POST, up to `retry.max.attempts`, then the batch goes back to `errors.retry.*`). `<prefix>` below is `errors.retry` or `retry`.',
      fields: fieldsOf(z.object(retryShape('<prefix>', { initialMs: 200, maxMs: 30_000 }, 'after a failed attempt'))).map((f) => ({ ...f, default: f.path.endsWith('jitter') ? f.default : undefined, required: false })),
    },
    {
      title: 'Shared field groups: `truncate.mode`',
      intro: [
        'What a TRUNCATE event (op "t", also sent for a dropped table with `table.removal.mode: truncate`) does to what a sink derived from the table. One vocabulary; each sink type offers the values it can honour, and only rows/documents/keys older than the truncate (by commit position) are affected. Old values (`delete-all`, `invalidate-pattern`) are errors that name the new one. See docs/truncate.md.',
        '',
        '| value | elasticsearch | clickhouse | redis | webhook |',
        '|---|---|---|---|---|',
        '| `delete` | **default**: versioned deletes of every document of the table\'s index | **default**: `ALTER TABLE … DELETE` mutation | SCAN the key templates\' literal prefixes and UNLINK the keys older than the truncate | — (forwards the event) |',
        '| `mark-deleted` | — | insert `_deleted = 1` rows at the truncate position (hidden by `FINAL … WHERE _deleted = 0` and the `_current` view) | — | — |',
        '| `ignore` | keep the documents | keep the rows | **default**: keep the keys | — |',
      ].join('\n'),
      fields: [],
    },
    {
      title: '`source`',
      intro: 'Postgres connection, slot, publication, tables, snapshot and event format (Debezium property names).',
      // The loader fills source.name from the pipeline name.
      fields: fieldsOf(c.source).map((f) => (f.path === 'name' ? { ...f, required: false, default: 'the pipeline `name`' } : f)),
    },
    { title: '`kafka`', intro: '', fields: fieldsOf(c.kafka) },
    { title: '`sinks[]` — common fields', intro: 'Every sink has these, plus the fields of its `type`.', fields: common },
    ...c.plugins.map((p) => {
      // A plugin that re-declares a common field (redis: `tables`, to check it against its key templates) is documented once, above.
      const common: Readonly<Record<string, z.ZodType>> = c.sinkCommon.shape;
      const own: Readonly<Record<string, z.ZodType>> = p.spec.shape;
      const shared = new Set(Object.keys(own).filter((k) => own[k] === common[k]));
      return {
        title: `\`sinks[]\` with \`type: ${p.type}\``,
        intro: p.description,
        fields: fieldsOf(p.spec).filter((f) => !shared.has(f.path) && ![...shared].some((k) => f.path.startsWith(`${k}.`))),
      };
    }),
  ];
}

function flagsTable(program: Command): string {
  const run = program.commands.find((c) => c.name() === 'run');
  if (!run) return '';
  const rows = run.options.map((o) => `| \`${cell(o.flags)}\` | ${o.defaultValue === undefined ? '—' : `\`${cell(JSON.stringify(o.defaultValue))}\``} | ${cell(o.description)} |`);
  return ['| Flag | Default | Description |', '|---|---|---|', ...rows].join('\n');
}

export function renderReference(c: ConfigComponents, program: Command): string {
  const parts = [
    '_Generated from the config schema by `npm run docs:config` — do not edit by hand._',
    '',
    'Values may use `${NAME}` / `${NAME:-default}` (environment variables; names are case-sensitive and an unset one is an error) and `${file:/path}` (file contents, trailing newline dropped; relative paths resolve from the config file). A value that is exactly one placeholder and reads as a number or boolean becomes one. `$${` writes a literal `${`. Secret fields are redacted everywhere.',
    '',
    'Templates (`topic.routing.template`, `transaction.topic`, `message.topic`, `index.name.template`, `table.name.format`, Redis key templates) have one syntax: `{name}` placeholders — `{prefix}`, `{db}`, `{schema}`, `{table}`, `{topic}` for names, `{column}` for a row\'s value in Redis keys (`{{` / `}}` for literal braces). `${…}` is only interpolation (above), never a template, so the two cannot be confused; a template in the `${prefix}` syntax of earlier releases is an error that shows it rewritten.',
    '',
    'YAML merge keys (`<<: *anchor`) work; top-level keys starting with `x-` are ignored (a place for anchors). What `validate` checks beyond the field types, and its error format: docs/config-validation.md.',
  ];
  for (const s of referenceSections(c)) {
    parts.push('', `### ${s.title}`, '');
    if (s.intro) parts.push(s.intro, '');
    if (s.fields.length > 0) parts.push(table(s.fields));
  }
  parts.push(
    '',
    '### Daemon settings (`cdc-fanout run` flags)',
    '',
    'The admin server and shutdown belong to the process, not to a pipeline, so they are flags (and env vars). SIGHUP does not reload: restart the process to apply config changes (every component resumes from its checkpoints).',
    '',
    flagsTable(program),
  );
  return parts.join('\n');
}

