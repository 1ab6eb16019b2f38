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

/** Where fields of earlier releases (and Debezium's libpq names) live now; used for did-you-mean on unknown keys. */
const MOVED: Readonly<Record<string, { to: string; write: string }>> = {
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
};

/**
 * Hint for an unknown key that is a moved field (`connection.username` → `auth: { username }`) or a
 * group field written flat (`tls.ca: …` → `tls: { ca: … }`), given the fields known at that level.
 */
export function movedKeyHint(key: string, shape: Readonly<Record<string, z.ZodType>>): string | undefined {
  const moved = MOVED[key];
  if (moved && moved.to in shape) return `this setting moved; write ${moved.write}`;
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
