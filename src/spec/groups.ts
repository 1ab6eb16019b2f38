/**
 * Field groups shared by every component, declared once here and reused by each component's spec:
 *   - `tls`  — Postgres (`source.database.tls`), Kafka (`kafka.tls`), Elasticsearch, ClickHouse and
 *              Redis sinks (`sinks[].tls`): mode, CA, client certificate and key, server name.
 *   - `auth` — user name and password: Elasticsearch (plus `api.key`), ClickHouse and Redis sinks
 *              (`sinks[].auth`); Kafka's `sasl` is this group (both required) plus `mechanism`.
 * The config reference shows each group once (reference.ts reads `fieldGroups`) and every use links
 * to it. Postgres keeps Debezium's `database.user` / `database.password`.
 *
 * A leaf module (zod, node built-ins, describe-schema.ts, secret.ts, tls.ts), so specs at every layer import it.
 */
import { z } from 'zod';
import { shapeOf } from './describe-schema.js';
import { secret } from './secret.js';
import { certificateProblem, keyFileProblem, tlsModes, tlsProblems, type TlsSettings } from './tls.js';

export interface FieldGroupMeta {
  /** Name of the shared group: its section in the config reference. */
  readonly group: 'tls' | 'auth';
  /** Set on a component's variant of the group: the reference lists only the fields it adds. */
  readonly variant?: string;
}

/** Schemas that are a shared group (or a component's variant of one); the reference shows them once. */
export const fieldGroups = z.registry<FieldGroupMeta>();

const pemOrPath = (what: 'CA certificate' | 'client certificate', description: string) =>
  z
    .string()
    .min(1)
    .superRefine((v, ctx) => {
      const problem = certificateProblem(v, what);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(`${description}: PEM text (e.g. \${file:certs/x.pem}, relative to the config file) or an absolute path to a PEM file (read when a client is created, so a restart picks up a rotated file).`);

export const tlsGroup = z
  .object({
    mode: z
      .enum(tlsModes, {
        error: (iss) =>
          iss.input === 'prefer' || iss.input === 'allow'
            ? `"${String(iss.input)}" (fall back between TLS and plaintext) is not supported: the clients cannot fall back; write require (TLS, unverified) or disable`
            : undefined,
      })
      .default('verify-full')
      .describe(
        'disable: plaintext; require: TLS without verifying the server (encryption only); verify-ca: the server certificate must chain to `ca` (or the system CAs), any host name; verify-full: chain and host name (or `servername`) are checked. libpq\'s sslmode values (prefer/allow are not supported).',
      ),
    ca: pemOrPath('CA certificate', 'CA certificate(s) the server certificate must chain to; default the system CAs'),
    cert: pemOrPath('client certificate', 'Client certificate (mutual TLS; with `key`)'),
    key: secret(
      z
        .string()
        .min(1)
        .superRefine((v, ctx) => {
          const problem = keyFileProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    )
      .optional()
      .describe('Client private key (with `cert`): PEM text (e.g. ${file:certs/client.key}) or an absolute path to a PEM file.'),
    'key.password': secret(z.string()).optional().describe('Passphrase of an encrypted `key`.'),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe('Host name sent as SNI and checked against the server certificate (verify-full); default the host connected to. For servers reached by IP address or through a tunnel.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    for (const p of tlsProblems(t)) ctx.addIssue({ code: 'custom', path: [p.field], message: p.message });
  });
fieldGroups.add(tlsGroup, { group: 'tls' });

/** The `tls` field of a component: absent = plaintext; present = TLS (mode verify-full unless set). */
export function tlsField(description: string) {
  return tlsGroup.optional().describe(`${description} Absent: plaintext. \`tls: {}\` = TLS verified against the system CAs. Fields: see "Shared field groups: tls".`);
}

export const authGroup = z
  .object({
    username: z.string().min(1).optional().describe('User name.'),
    password: secret(z.string()).optional().describe('Password; use ${ENV} or ${file:/path}.'),
  })
  .strict();
fieldGroups.add(authGroup, { group: 'auth' });

/** The `auth` field of a component: the shared group, or a variant of it made with `authVariant`. */
export function authField(description: string): z.ZodOptional<typeof authGroup>;
export function authField<T extends z.ZodObject>(description: string, variant: T): z.ZodOptional<T>;
export function authField(description: string, variant: z.ZodObject = authGroup): z.ZodOptional<z.ZodObject> {
  return variant.optional().describe(`${description} Fields: see "Shared field groups: auth".`);
}

/** A component's variant of the auth group (extra fields, requirements); the reference lists what it adds. */
export function authVariant<T extends z.ZodObject>(schema: T, variant: string): T {
  fieldGroups.add(schema, { group: 'auth', variant });
  return schema;
}

/** A table as sinks name it: `schema.table` (exact names; the source's include/exclude lists hold patterns). */
export const tableName = z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'write tables as "schema.table", e.g. "public.users"');

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The one table selector of every sink: `tables: [schema.table, …]`. Per-table settings never go
 * here but under `table.overrides` (see `tableOverridesField`); a map written here (the Redis
 * shape of earlier releases) gets the rewrite.
 */
export const tablesField = z
  .array(tableName, {
    error: (iss) => {
      if (iss.code !== 'invalid_type' || !isMap(iss.input)) return undefined;
      const names = Object.keys(iss.input);
      const list = names.length > 0 ? names.join(', ') : 'schema.table';
      return `"tables" is a list of table names; per-table settings moved to "table.overrides": write tables: [${list}] and table.overrides: { ${names[0] ?? 'schema.table'}: { … } }`;
    },
  })
  .min(1)
  .optional()
  .describe(
    'Tables to consume, as "schema.table" (exact names); each is consumed from the topic source.topic.routing.template gives it (default "<topic.prefix>.<schema>.<table>"). Absent (and no `topics`): the sink follows the source\'s table selection, tables that join it later included (docs/table-lifecycle.md). Per-table settings go under `table.overrides`.',
  );

/** `table.overrides` of a sink: per-table settings keyed "schema.table" (each must be a consumed table). */
export function tableOverridesField<T extends z.ZodObject>(entry: T, what: string) {
  return z
    .record(tableName, entry)
    .default({})
    .describe(`Per-table settings, keyed "schema.table" (a table this sink consumes): ${what} The same key in every sink type; only the settings inside differ.`);
}

/**
 * The one `truncate.mode` vocabulary. What each value does is per sink (docs/config-reference.md,
 * "Shared field groups: truncate.mode"); a sink offers the subset it can honour.
 */
export const truncateModes = ['delete', 'mark-deleted', 'ignore'] as const;
export type TruncateMode = (typeof truncateModes)[number];
/** Values of earlier releases → the vocabulary's word for the same behaviour. */
const OLD_TRUNCATE_MODES: Readonly<Record<string, TruncateMode>> = { 'delete-all': 'delete', 'invalidate-pattern': 'delete' };

export function truncateModeField<const M extends readonly [TruncateMode, ...TruncateMode[]]>(supported: M, dflt: M[number], meaning: string) {
  return z
    .enum(supported, {
      error: (iss) => {
        if (iss.code !== 'invalid_value' || typeof iss.input !== 'string') return undefined;
        const now = OLD_TRUNCATE_MODES[iss.input];
        if (now && (supported as readonly string[]).includes(now)) return `"${iss.input}" is now called "${now}" (one truncate.mode vocabulary for every sink): write truncate.mode: ${now}`;
        if ((truncateModes as readonly string[]).includes(iss.input)) return `"${iss.input}" is not supported by this sink type (see "Shared field groups: truncate.mode" in docs/config-reference.md)`;
        return undefined;
      },
    })
    .default(dflt as M[number] & z.util.EnumValue)
    .describe(`What a TRUNCATE (op "t") of a consumed table does: ${meaning} Vocabulary shared by every sink: see "Shared field groups: truncate.mode".`);
}

/**
 * The retry group: backoff between attempts, declared once and used by the runtime's batch retries
 * (`errors.retry.*` of every sink) and the webhook's per-request retries (`retry.*`).
 */
export function retryShape<P extends string>(prefix: P, defaults: { initialMs: number; maxMs: number }, what: string) {
  return {
    [`${prefix}.initial.backoff.ms`]: z.number().int().positive().default(defaults.initialMs).describe(`First wait before retrying ${what}; doubles per attempt.`),
    [`${prefix}.max.backoff.ms`]: z.number().int().positive().default(defaults.maxMs).describe('Longest wait between attempts.'),
    [`${prefix}.jitter`]: z.number().min(0).max(1).default(0.2).describe('Random fraction (0..1) added to/subtracted from each backoff, so many clients do not retry in lock-step.'),
  } as Record<`${P}.initial.backoff.ms` | `${P}.max.backoff.ms`, z.ZodDefault<z.ZodNumber>> & Record<`${P}.jitter`, z.ZodDefault<z.ZodNumber>>;
}

/** A connection URL (the `connection` group: every sink names its server by `url`, nothing is guessed). */
export function urlField(schemes: readonly string[], example: string, extra: string) {
  const re = new RegExp(`^(${schemes.join('|')})://[^\\s/]+`, 'i');
  return z
    .string()
    .regex(re, `use a ${schemes.map((s) => `${s}://`).join(' or ')} URL, e.g. ${example}`)
    .describe(`Server URL (${schemes.map((s) => `${s}://`).join(', ')}), e.g. ${example}. Required: the sink never guesses a server. ${extra}`);
}

/** `request.timeout.ms` of the connection group. */
export function requestTimeoutField(dflt: number, what: string) {
  return z.number().int().positive().default(dflt).describe(`Timeout of one request to the server (${what}); a timeout is a retriable error.`);
}

/** Where fields of earlier releases (and Debezium's libpq names) live now; used for did-you-mean on unknown keys. */
const MOVED: Readonly<Record<string, { to: string; write: string; when?: string }>> = {
  ssl: { to: 'tls', write: 'tls: {} (TLS verified against the system CAs) or tls: { ca: /path/ca.pem }' },
  'connection.username': { to: 'auth', write: 'auth: { username: … }' },
  'connection.password': { to: 'auth', write: 'auth: { password: … }' },
  username: { to: 'auth', write: 'auth: { username: … }' },
  password: { to: 'auth', write: 'auth: { password: … }' },
  'database.sslmode': { to: 'database.tls', write: 'database.tls: { mode: verify-full }' },
  'database.sslrootcert': { to: 'database.tls', write: 'database.tls: { ca: … }' },
  'database.sslcert': { to: 'database.tls', write: 'database.tls: { cert: … }' },
  'database.sslkey': { to: 'database.tls', write: 'database.tls: { key: … }' },
  'database.sslpassword': { to: 'database.tls', write: 'database.tls: { key.password: … }' },
  // One vocabulary (issue 15): connection, per-table settings, retry.
  'connection.url': { to: 'url', write: 'url: … (every sink names its server by url; https:// for TLS)' },
  host: { to: 'url', write: 'url: redis://host:6379/0 (rediss:// for TLS)', when: 'table.default' },
  port: { to: 'url', write: 'url: redis://host:port/0', when: 'table.default' },
  db: { to: 'url', write: 'url: redis://host:6379/<db> (the database index is the URL path)', when: 'table.default' },
  'fields.include': { to: 'table.overrides', write: 'table.overrides: { <schema.table>: { fields.include: [column, …] } }' },
  'fields.exclude': { to: 'table.overrides', write: 'table.overrides: { <schema.table>: { fields.exclude: [column, …] } }' },
  'fields.rename': { to: 'table.overrides', write: 'table.overrides: { <schema.table>: { fields.rename: { column: field } } }' },
  'index.mappings.files': { to: 'table.overrides', write: 'table.overrides: { <schema.table>: { index.mappings.file: path } }' },
  'retry.backoff.initial.ms': { to: 'retry.initial.backoff.ms', write: 'retry.initial.backoff.ms: … (the shared retry group\'s name)' },
  'retry.backoff.max.ms': { to: 'retry.max.backoff.ms', write: 'retry.max.backoff.ms: … (the shared retry group\'s name)' },
};

/**
 * Hint for an unknown key that is a moved field (`connection.username` → `auth: { username }`) or a
 * group field written flat (`tls.ca: …` → `tls: { ca: … }`), given the fields known at that level.
 */
export function movedKeyHint(key: string, shape: Readonly<Record<string, z.ZodType>>): string | undefined {
  const moved = MOVED[key];
  if (moved && moved.to in shape && (moved.when === undefined || moved.when in shape)) return `this setting moved; write ${moved.write}`;
  for (const [head, field] of Object.entries(shape)) {
    if (!key.startsWith(`${head}.`) || key.length <= head.length + 1) continue;
    const group = shapeOf(field);
    const rest = key.slice(head.length + 1);
    if (group && rest in group) return `"${head}" is a group; write it nested: ${head}: { ${rest}: … }`;
  }
  return undefined;
}

/**
 * A URL's scheme and the `tls` group must agree: `https://` (`rediss://`) means TLS, `http://`
 * (`redis://`) plaintext. An https URL without `tls` is TLS verified against the system CAs.
 */
export function urlTlsProblem(url: string | undefined, tls: TlsSettings | undefined, secure: 'https' | 'rediss'): { field: 'url' | 'tls'; message: string } | undefined {
  if (url === undefined || tls === undefined) return undefined;
  const plain = secure === 'https' ? 'http' : 'redis';
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === plain && tls.mode !== 'disable') return { field: 'url', message: `the URL is ${plain}:// (plaintext) but tls is set; write ${secure}://${url.slice(plain.length + 3)} (or remove tls)` };
  if (scheme === secure && tls.mode === 'disable') return { field: 'tls', message: `tls.mode is disable but the URL is ${secure}://; write ${plain}:// for plaintext, or another mode` };
  return undefined;
}
