/**
 * Secrets in config specs. A field is secret when its schema is registered with `secret()` or when
 * its property name looks like a credential (password, token, secret, api key, private key) — the
 * name rule catches specs written before they adopted `secret()`. Secret values are replaced by
 * `[redacted]` in everything that leaves the process: logs, the status API and error messages.
 */
import { z } from 'zod';

export const REDACTED = '[redacted]';

/** Registry of schemas whose values are secrets. */
export const secretRegistry = z.registry<{ secret: true }>();

/** Marks a field as secret: `password: secret(z.string()).describe('…')`. */
export function secret<T extends z.ZodType>(schema: T): T {
  secretRegistry.add(schema, { secret: true });
  return schema;
}

const SECRET_NAME = /(pass(word)?|passwd|token|secret|api[._-]?key|private[._-]?key|credentials?)$/i;

/** True when a property name denotes a credential (e.g. `database.password`, `admin.token`). */
export function isSecretKey(key: string): boolean {
  return SECRET_NAME.test(key);
}

/** Unwraps optional/default/nullable/pipe wrappers to see whether a schema was marked secret. */
export function isSecretSchema(schema: z.ZodType | undefined): boolean {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s && i < 8; i++) {
    if (secretRegistry.has(s)) return true;
    const def = s._zod.def as { innerType?: z.ZodType; in?: z.ZodType };
    s = def.innerType ?? def.in;
  }
  return false;
}

/**
 * Deep copy with every secret-named property replaced by `[redacted]`, plus every string listed in
 * `secretValues` (resolved secrets from the loaded configs) masked wherever it appears, e.g. inside
 * a connection URL or an error message.
 */
export function redact<T>(value: T, secretValues: ReadonlySet<string> = new Set()): T {
  return walk(value, secretValues) as T;
}

function walk(value: unknown, secrets: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return maskString(value, secrets);
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets));
  if (value instanceof Error) return maskString(value.message, secrets);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : walk(v, secrets);
    }
    return out;
  }
  return value;
}

/** Replaces every occurrence of a known secret value (and `user:password@` URL credentials). */
export function maskString(text: string, secrets: ReadonlySet<string> = new Set()): string {
  let out = text.replace(/(\/\/[^/:@\s]+:)[^@\s/]+@/g, `$1${REDACTED}@`);
  for (const s of secrets) {
    if (s.length >= 3) out = out.split(s).join(REDACTED);
  }
  return out;
}
