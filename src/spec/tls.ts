/**
 * TLS material of the shared `tls` field group (src/spec/groups.ts): certificates and keys given
 * inline (PEM text, typically via `${file:…}` or `${ENV}`) or as an absolute path to a PEM file, the
 * checks `validate` runs on them, and the Node TLS options every client (pg, kafkajs,
 * @platformatic/kafka, ioredis, @elastic/elasticsearch, @clickhouse/client) is built from.
 *
 * A leaf module (node built-ins only), so components at every layer — src/kafka included — use it.
 * Paths are read each time a client is built (so a restarted component picks up a rotated file);
 * the check at validate time is the same read + parse, so `validate` fails when a connect would.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { checkServerIdentity as checkIdentity, type ConnectionOptions } from 'node:tls';

/** `disable`: plaintext; `require`: encrypted, server not verified; `verify-ca`: chain checked; `verify-full`: chain and host name checked (libpq's sslmode values). */
export const tlsModes = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type TlsMode = (typeof tlsModes)[number];

/** The `tls` group as parsed (see groups.ts for the field docs). */
export interface TlsSettings {
  readonly mode: TlsMode;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly 'key.password'?: string | undefined;
  readonly servername?: string | undefined;
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
}

/** True when the value is PEM text rather than a path. */
export function isInlinePem(value: string): boolean {
  return PEM.test(value);
}

/** The PEM text of a field: the value itself when inline, else the file it names (absolute path). */
export function readPem(value: string, what: string): string {
  if (isInlinePem(value)) return value;
  if (!isAbsolute(value)) {
    throw new TlsMaterialError(
      `"${value}" is neither PEM text nor an absolute path; write an absolute path, or \${file:${value}} to read the file relative to this config file`,
    );
  }
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new TlsMaterialError(`cannot read the ${what} file ${value}: ${why}`);
  }
  if (!isInlinePem(text)) throw new TlsMaterialError(`${value} is not a PEM file (no "-----BEGIN …-----" line); the ${what} must be PEM-encoded`);
  return text;
}

/** Every certificate of a PEM bundle, parsed (throws naming the problem). */
export function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError(`the ${what} holds no "-----BEGIN CERTIFICATE-----" block`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new TlsMaterialError(`certificate ${i + 1} of the ${what} does not parse (${(err as Error).message})`);
    }
  });
}

/** The private key, decrypted with `password` when it is encrypted (throws naming the problem). */
export function parsePrivateKey(pem: string, password: string | undefined): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new TlsMaterialError('the key holds no "-----BEGIN … PRIVATE KEY-----" block');
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
  if (encrypted && password === undefined) throw new TlsMaterialError('the key is encrypted; set key.password (e.g. ${file:/run/secrets/key-password})');
  try {
    return createPrivateKey(password === undefined ? pem : { key: pem, passphrase: password });
  } catch (err) {
    const msg = (err as Error).message;
    if (encrypted) throw new TlsMaterialError(`the key does not decrypt with key.password (${msg})`);
    throw new TlsMaterialError(`the key does not parse (${msg})`);
  }
}

export interface TlsProblem {
  /** Field of the group the problem belongs to. */
  readonly field: 'ca' | 'cert' | 'key' | 'key.password' | 'mode';
  readonly message: string;
}

/** Field check of `ca` / `cert`: readable, PEM, every certificate parses. Returns the problem or undefined. */
export function certificateProblem(value: string, what: 'CA certificate' | 'client certificate'): string | undefined {
  try {
    parseCertificates(readPem(value, what), what);
    return undefined;
  } catch (err) {
    if (err instanceof TlsMaterialError) return err.message;
    throw err;
  }
}

/** Field check of `key`: readable and PEM (whether it parses needs `key.password`: see tlsProblems). */
export function keyFileProblem(value: string): string | undefined {
  try {
    readPem(value, 'client key');
    return undefined;
  } catch (err) {
    if (err instanceof TlsMaterialError) return err.message;
    throw err;
  }
}

/** Problems across the group's fields: the key parses (with key.password), cert and key belong together, fields that need each other. */
export function tlsProblems(t: TlsSettings): TlsProblem[] {
  const problems: TlsProblem[] = [];
  const quiet = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (err instanceof TlsMaterialError) return undefined;
      throw err;
    }
  };
  if (t.cert !== undefined && t.key === undefined) problems.push({ field: 'key', message: 'cert is set but key is not: a client certificate needs its private key (key: /path/client.key)' });
  if (t.key !== undefined && t.cert === undefined) problems.push({ field: 'cert', message: 'key is set but cert is not: give the client certificate (cert: /path/client.crt) too' });
  if (t['key.password'] !== undefined && t.key === undefined) problems.push({ field: 'key.password', message: 'key.password is set but key is not; remove it or set key' });
  if (t.mode === 'require' && t.ca !== undefined) {
    problems.push({ field: 'ca', message: 'mode is require, which does not verify the server, so ca would be ignored; set mode: verify-full (or verify-ca), or remove ca' });
  }
  // Unreadable files were reported by the field checks; here only what needs two fields.
  const keyPem = t.key === undefined ? undefined : quiet(() => readPem(t.key as string, 'client key'));
  let key: KeyObject | undefined;
  if (keyPem !== undefined) {
    try {
      key = parsePrivateKey(keyPem, t['key.password']);
    } catch (err) {
      if (!(err instanceof TlsMaterialError)) throw err;
      problems.push({ field: /does not decrypt/.test(err.message) ? 'key.password' : 'key', message: err.message });
    }
  }
  const cert = t.cert === undefined ? undefined : quiet(() => parseCertificates(readPem(t.cert as string, 'client certificate'), 'client certificate')[0]);
  if (cert && key && !cert.checkPrivateKey(key)) problems.push({ field: 'key', message: `the key does not belong to the client certificate (${cert.subject.replace(/\n/g, ', ')})` });
  return problems;
}

/**
 * Node TLS options of a client (files are read at every call, i.e. whenever a client is built). Undefined for mode `disable`. `require` encrypts without verifying; `verify-ca`
 * checks the chain but not the host name; `verify-full` checks both (against `servername` when set).
 */
export function nodeTlsOptions(t: TlsSettings | undefined): ConnectionOptions | undefined {
  if (!t || t.mode === 'disable') return undefined;
  const o: ConnectionOptions = { rejectUnauthorized: t.mode !== 'require' };
  if (t.ca !== undefined) o.ca = readPem(t.ca, 'CA certificate');
  if (t.cert !== undefined) o.cert = readPem(t.cert, 'client certificate');
  if (t.key !== undefined) o.key = readPem(t.key, 'client key');
  if (t['key.password'] !== undefined) o.passphrase = t['key.password'];
  if (t.servername !== undefined) o.servername = t.servername;
  // Invariant: only verify-full checks the host name; verify-ca trusts any name on a CA-signed cert.
  if (t.mode === 'verify-ca') o.checkServerIdentity = () => undefined;
  else if (t.mode === 'verify-full' && t.servername !== undefined) {
    // Some clients (pg) replace `servername` by the host they dial; the name checked stays the configured one.
    const name = t.servername;
    o.checkServerIdentity = (_host, cert) => checkIdentity(name, cert);
  }
  return o;
}

/** Node's codes for a peer certificate that does not verify: a settings problem retrying cannot fix. */
const VERIFY_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Node's messages for those codes, for clients that keep only the message (@elastic/transport). */
const VERIFY_MESSAGE =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate|certificate signature failure|certificate not trusted|certificate has expired|certificate is not yet valid|Hostname\/IP does not match certificate's altnames[^-]*/;

/** The message of the certificate-verification failure inside `err` (its cause chain), if that is what it is. */
export function certificateVerifyFailure(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const o = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && VERIFY_CODES.has(o.code)) return String(o.message);
    const m = typeof o.message === 'string' ? VERIFY_MESSAGE.exec(o.message) : null;
    if (m) return m[0].trim();
    e = o.cause;
  }
  return undefined;
}
