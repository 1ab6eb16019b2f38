/**
 * What `validate` says about the shared `tls` and `auth` groups (issue 15.4): every bad input —
 * missing or unreadable CA, key that is no key or does not match the certificate, an encrypted key
 * without (or with the wrong) passphrase, sslmode and SASL mechanism typos, the old field names —
 * gets one located message naming the field and what to write; a config using TLS and auth on
 * every service validates; TLS keys from ${ENV}/${file:} are treated as secrets.
 * Certificates come from a throwaway CA made with the openssl CLI (test/support/certs.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { formatError } from '../../src/config/issues.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';

let dir = '';
let pki: TestPki;

beforeAll(() => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-tls-validate-'));
  pki = makePki(join(dir, 'pki'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A pipeline with TLS and auth on every service; `parts` replace its blocks. */
function config(parts: { source?: string; kafka?: string; redis?: string; es?: string; ch?: string } = {}): string {
  return `name: shop
source:
  topic.prefix: shop
${parts.source ?? `  database.tls:
    mode: verify-full
    ca: ${pki.caCert}
    cert: ${pki.clientCert}
    key: "\${file:pki/client.key}"`}
kafka:
  bootstrap.servers: 127.0.0.1:9093
${parts.kafka ?? `  tls: { ca: ${pki.caCert} }
  sasl: { mechanism: scram-sha-512, username: cdc, password: "\${TLSV_SASL_PASSWORD}" }`}
sinks:
  - name: cache
    type: redis
${parts.redis ?? `    url: rediss://127.0.0.1:6380/0
    auth: { username: cdc, password: pw }
    tls: { ca: ${pki.caCert}, cert: ${pki.clientCert}, key: ${pki.clientKeyEncrypted}, key.password: ${pki.clientKeyPassword} }`}
    tables: [public.users]
    table.overrides:
      public.users: { keys: ["user:{id}"] }
  - name: search
    type: elasticsearch
${parts.es ?? `    url: https://127.0.0.1:9201
    auth: { api.key: "\${TLSV_ES_KEY}" }
    tls: { mode: verify-ca, ca: ${pki.caCert} }`}
    tables: [public.users]
  - name: wh
    type: clickhouse
${parts.ch ?? `    url: https://127.0.0.1:8443
    auth: { username: default, password: "" }
    tls: { ca: ${pki.caCert}, servername: tls-test.internal }`}
    tables: [public.users]
`;
}

const env = { TLSV_SASL_PASSWORD: 'sasl-secret-1', TLSV_ES_KEY: 'es-api-key-1' };

/** Errors as `line:col: path: message` (file name dropped), in file order. */
async function errorsOf(text: string, extraEnv: Record<string, string> = {}): Promise<string[]> {
  const file = join(dir, 'p.yaml');
  writeFileSync(file, text);
  const r = await loadConfig(file, { env: { ...env, ...extraEnv } });
  return r.errors.map((e) => formatError(e).slice(file.length + 1)).sort();
}

/** `line:col` of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string): string {
  const i = text.indexOf(needle.replaceAll('PKI', pki.dir));
  if (i < 0) throw new Error(`test bug: ${needle} not in config`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${(before[before.length - 1] as string).length + 1}`;
}

describe.skipIf(!hasOpenssl)('tls and auth groups in validate', () => {
  it('accepts TLS and auth on every service, and treats TLS keys and passwords from ${…} as secrets', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, config());
    const r = await loadConfig(file, { env });
    expect(r.errors.map(formatError)).toEqual([]);
    const p = r.pipelines[0]?.config as unknown as { source: Record<string, unknown>; kafka: Record<string, unknown> };
    expect(p.source['database.tls']).toMatchObject({ mode: 'verify-full', ca: pki.caCert });
    expect(p.kafka.tls).toEqual({ mode: 'verify-full', ca: pki.caCert });
    expect(r.secrets.has('sasl-secret-1')).toBe(true);
    expect(r.secrets.has('es-api-key-1')).toBe(true);
    expect([...r.secrets].some((s) => s.startsWith('-----BEGIN PRIVATE KEY-----'))).toBe(true);
  });

  it('a TLS key from an environment variable is a secret (the field is marked secret in the schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const keyPem = readFileSync(pki.clientKey, 'utf8');
    const file = join(dir, 'envkey.yaml');
    writeFileSync(file, config({ source: `  database.tls: { ca: ${pki.caCert}, cert: ${pki.clientCert}, key: "\${TLSV_PG_KEY}" }` }));
    const r = await loadConfig(file, { env: { ...env, TLSV_PG_KEY: keyPem } });
    expect(r.errors.map(formatError)).toEqual([]);
    expect(r.secrets.has(keyPem.replace(/\r?\n$/, '')) || r.secrets.has(keyPem)).toBe(true);
  });

  const cases: { name: string; parts: Parameters<typeof config>[0]; expected: (text: string) => string[] }[] = [
    {
      name: 'missing CA file',
      parts: { source: `  database.tls: { ca: /nonexistent/cdc/ca.pem }` },
      expected: (t) => [`${at(t, '/nonexistent')}: source.database.tls.ca: cannot read the CA certificate file /nonexistent/cdc/ca.pem: no such file`],
    },
    {
      name: 'CA file that holds no certificate (a key)',
      parts: { kafka: `  tls: { ca: PKI/server.key }` },
      expected: (t) => [`${at(t, 'PKI/server.key }')}: kafka.tls.ca: the CA certificate holds no "-----BEGIN CERTIFICATE-----" block`],
    },
    {
      name: 'unreadable key (a directory)',
      parts: { source: `  database.tls: { cert: PKI/client.crt, key: PKI }` },
      expected: (t) => [`${at(t, 'PKI }')}: source.database.tls.key: cannot read the client key file PKI: is a directory`],
    },
    {
      name: 'key that is not PEM',
      parts: { source: `  database.tls: { cert: PKI/client.crt, key: PKI/client.ext }` },
      expected: (t) => [`${at(t, 'PKI/client.ext')}: source.database.tls.key: PKI/client.ext is not a PEM file (no "-----BEGIN …-----" line); the client key must be PEM-encoded`],
    },
    {
      name: 'key of another certificate',
      parts: { redis: `    url: rediss://127.0.0.1:6380/0\n    tls: { cert: PKI/client.crt, key: PKI/server.key }` },
      expected: (t) => [`${at(t, 'PKI/server.key')}: sinks[0].tls.key: the key does not belong to the client certificate (CN=cdc-client)`],
    },
    {
      name: 'encrypted key without key.password',
      parts: { redis: `    url: rediss://127.0.0.1:6380/0\n    tls: { cert: PKI/client.crt, key: PKI/client-encrypted.key }` },
      expected: (t) => [`${at(t, 'PKI/client-encrypted.key')}: sinks[0].tls.key: the key is encrypted; set key.password (e.g. \${file:/run/secrets/key-password})`],
    },
    {
      name: 'encrypted key with the wrong key.password',
      parts: { redis: `    url: rediss://127.0.0.1:6380/0\n    tls: { cert: PKI/client.crt, key: PKI/client-encrypted.key, key.password: nope }` },
      expected: (t) => [expect.stringMatching(new RegExp(`^${at(t, 'nope')}: sinks\\[0\\]\\.tls\\.key\\.password: the key does not decrypt with key\\.password \\(`)) as unknown as string],
    },
    {
      name: 'cert without key',
      parts: { ch: `    url: https://127.0.0.1:8443\n    tls: { cert: PKI/client.crt }` },
      expected: (t) => [`${at(t, '{ cert: PKI/client.crt }')}: sinks[2].tls.key: cert is set but key is not: a client certificate needs its private key (key: /path/client.key)`],
    },
    {
      name: 'relative path',
      parts: { es: `    url: https://127.0.0.1:9201\n    tls: { ca: certs/ca.pem }` },
      expected: (t) => [`${at(t, 'certs/ca.pem')}: sinks[1].tls.ca: "certs/ca.pem" is neither PEM text nor an absolute path; write an absolute path, or \${file:certs/ca.pem} to read the file relative to this config file`],
    },
    {
      name: 'sslmode typo',
      parts: { source: `  database.tls: { mode: verify_full }` },
      expected: (t) => [`${at(t, 'verify_full')}: source.database.tls.mode: expected one of "disable" | "require" | "verify-ca" | "verify-full", got "verify_full"; did you mean "verify-full"?`],
    },
    {
      name: 'sslmode prefer (no fallback)',
      parts: { source: `  database.tls: { mode: prefer }` },
      expected: (t) => [
        `${at(t, 'prefer')}: source.database.tls.mode: expected one of "disable" | "require" | "verify-ca" | "verify-full", got "prefer": "prefer" (fall back between TLS and plaintext) is not supported: the clients cannot fall back; write require (TLS, unverified) or disable`,
      ],
    },
    {
      name: 'Debezium sslmode / sslrootcert names',
      parts: { source: `  database.sslmode: verify-full\n  database.sslrootcert: /etc/ca.pem` },
      expected: (t) => [
        `${at(t, 'database.sslmode')}: source.database.sslmode: unknown key; this setting moved; write database.tls: { mode: verify-full }`,
        `${at(t, 'database.sslrootcert')}: source.database.sslrootcert: unknown key; this setting moved; write database.tls: { ca: … }`,
      ],
    },
    {
      name: 'require with a CA (it would be ignored)',
      parts: { source: `  database.tls: { mode: require, ca: PKI/ca.crt }` },
      expected: (t) => [`${at(t, 'PKI/ca.crt')}: source.database.tls.ca: mode is require, which does not verify the server, so ca would be ignored; set mode: verify-full (or verify-ca), or remove ca`],
    },
    {
      name: 'SASL mechanism typo',
      parts: { kafka: `  sasl: { mechanism: scram-sha-265, username: u, password: p }` },
      expected: (t) => [`${at(t, 'scram-sha-265')}: kafka.sasl.mechanism: expected one of "plain" | "scram-sha-256" | "scram-sha-512", got "scram-sha-265"; did you mean "scram-sha-256"?`],
    },
    {
      name: 'SASL without password',
      parts: { kafka: `  sasl: { mechanism: plain, username: u }` },
      expected: (t) => [`${at(t, '{ mechanism: plain')}: kafka.sasl.password: missing required field (expected string)`],
    },
    {
      name: 'old kafka ssl: true',
      parts: { kafka: `  ssl: true` },
      expected: (t) => [`${at(t, 'ssl: true')}: kafka.ssl: unknown key; this setting moved; write tls: {} (TLS verified against the system CAs) or tls: { ca: /path/ca.pem }`],
    },
    {
      name: 'old flat auth names (Elasticsearch, ClickHouse, Redis)',
      parts: {
        es: `    url: https://127.0.0.1:9201\n    auth.username: elastic`,
        ch: `    url: http://127.0.0.1:8123\n    connection.password: x`,
        redis: `    url: redis://127.0.0.1:6379/0\n    password: x`,
      },
      expected: (t) => [
        `${at(t, 'auth.username')}: sinks[1].auth.username: unknown key; "auth" is a group; write it nested: auth: { username: … }`,
        `${at(t, 'connection.password')}: sinks[2].connection.password: unknown key; this setting moved; write auth: { password: … }`,
        `${at(t, 'password: x')}: sinks[0].password: unknown key; this setting moved; write auth: { password: … }`,
      ],
    },
    {
      name: 'Elasticsearch user without password, and an http URL with tls',
      parts: { es: `    url: http://127.0.0.1:9200\n    auth: { username: elastic }\n    tls: {}` },
      expected: (t) => [
        `${at(t, '{ username: elastic }')}: sinks[1].auth.password: set both username and password, or neither`,
        `${at(t, 'http://127.0.0.1:9200')}: sinks[1].url: the URL is http:// (plaintext) but tls is set; write https://127.0.0.1:9200 (or remove tls)`,
      ],
    },
    {
      name: 'redis:// URL with tls; https ClickHouse with mode disable',
      parts: { redis: `    url: redis://127.0.0.1:6379/0\n    tls: {}`, ch: `    url: https://127.0.0.1:8443\n    tls: { mode: disable }` },
      expected: (t) => [
        `${at(t, 'redis://127.0.0.1:6379/0')}: sinks[0].url: the URL is redis:// (plaintext) but tls is set; write rediss://127.0.0.1:6379/0 (or remove tls)`,
        `${at(t, '{ mode: disable }')}: sinks[2].tls: tls.mode is disable but the URL is https://; write http:// for plaintext, or another mode`,
      ],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const text = config(c.parts).replaceAll('PKI', pki.dir);
      const expected = c.expected(text).map((e) => (typeof e === 'string' ? e.replaceAll('PKI', pki.dir) : e));
      expect(await errorsOf(text)).toEqual(expected.length > 1 ? [...expected].sort() : expected);
    });
  }
});
