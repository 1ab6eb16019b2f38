/**
 * Postgres over TLS (issue 15.4), against a private throwaway cluster (initdb as the postgres OS
 * user, own port and data dir — the shared server is never touched) with ssl=on and a pg_hba.conf
 * that accepts only TLS connections authenticated by a client certificate (CN = user): the source
 * snapshots and streams with `database.tls` (every one of its connections — replication, snapshot,
 * heartbeat, health — is encrypted, as pg_stat_ssl shows), and each wrong setting fails to connect
 * with the server's or the TLS layer's reason. Certificates: a throwaway CA (test/support/certs.ts).
 * Skipped when no initdb/runuser/openssl is available.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsSettings } from '../../src/spec/tls.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { parseSourceConfig } from '../../src/source/config.js';
import { clientConfig } from '../../src/source/connection.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { canRunPostgres, chownForPostgres, startTlsPostgres, type TlsPostgres } from '../support/tls-services.js';
import { cleanup, consume, kafkaConfig, uniq, waitFor } from './helpers.js';

const canRun = hasOpenssl && canRunPostgres;

const id = uniq('src_tls');
const prefix = id.replace(/_/g, '-');
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;
const sources: PostgresSource[] = [];
let dir = '';
let port = 0;
let pki: TestPki;
let server: TlsPostgres | undefined;

const sql = (text: string): Promise<Record<string, unknown>[]> => server!.sql(text);

function connector(tls: Partial<TlsSettings> | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'database.hostname': '127.0.0.1',
    'database.port': port,
    'database.user': 'postgres',
    'database.dbname': 'postgres',
    ...(tls ? { 'database.tls': tls } : {}),
    name: id,
    'topic.prefix': prefix,
    'slot.name': id,
    'publication.name': `${id}_pub`,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': 'public\\.t',
    'heartbeat.interval.ms': 300,
    'slot.health.interval.ms': 300,
    ...extra,
  };
}

/** Connects one client with the source's own connection settings; resolves to whether TLS is in use, or rejects. */
async function tryConnect(tls: Partial<TlsSettings> | undefined): Promise<boolean> {
  const c = new pg.Client({ ...clientConfig(parseSourceConfig(connector(tls))), connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return (await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl === true;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-pgtls-'));
  chownForPostgres(dir);
  // Client certificate CN = the database user: pg_hba's `cert` method maps it.
  pki = makePki(join(dir, 'pki'), 'postgres');
  server = await startTlsPostgres(dir, pki);
  port = server.port;
  await sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(`INSERT INTO t VALUES (1, 'snapshot row')`);
});

afterAll(async () => {
  for (const s of sources) await Promise.race([s.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10000))]);
  server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (canRun) await cleanup({ topicPrefix: prefix });
});

describe.skipIf(!canRun)('Postgres source over TLS (private cluster: ssl=on, hostssl + client certificate only)', () => {
  it('snapshots and streams with database.tls (verify-full, CA, client certificate); every source connection is encrypted', async () => {
    const full = { mode: 'verify-full' as const, ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
    const s = new PostgresSource(connector(full), kafkaConfig, logger);
    sources.push(s);
    await s.start();
    await waitFor(() => s.status().state === 'streaming', 60000, 'streaming');
    await sql(`INSERT INTO t VALUES (2, 'streamed row')`);
    const ids = (r: readonly { json: Record<string, unknown> | null }[]) => r.map((x) => (x.json?.after as { id?: number } | undefined)?.id);
    const recs = await consume([`${prefix}.public.t`], (r) => ids(r).includes(1) && ids(r).includes(2), 60000);
    expect(recs.map((r) => (r.json?.after as { v?: string } | undefined)?.v)).toEqual(expect.arrayContaining(['snapshot row', 'streamed row']));

    // The walsender and the normal connections of this source, all over TLS with the client certificate.
    const conns = await sql(
      `SELECT a.backend_type, s.ssl, s.client_dn FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'cdc-fanout:${id}'`,
    );
    expect(conns.some((c) => c.backend_type === 'walsender')).toBe(true);
    expect(conns.length).toBeGreaterThanOrEqual(2);
    for (const c of conns) expect(c, JSON.stringify(c)).toMatchObject({ ssl: true, client_dn: '/CN=postgres' });
    await s.stop();
    await sql(`SELECT pg_drop_replication_slot('${id}')`);
  });

  it('the server refuses a plaintext connection (no database.tls): the private cluster really requires TLS', async () => {
    await expect(tryConnect(undefined)).rejects.toThrow(/pg_hba\.conf rejects connection .*no encryption/);
  });

  it('verify-full refuses a server whose certificate does not chain to ca', async () => {
    await expect(tryConnect({ mode: 'verify-full', ca: pki.otherCaCert, cert: pki.clientCert, key: pki.clientKey })).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    // The source says which settings to check.
    const s = new PostgresSource(connector({ mode: 'verify-full', ca: pki.otherCaCert, cert: pki.clientCert, key: pki.clientKey }), kafkaConfig, logger);
    sources.push(s);
    await expect(s.start()).rejects.toThrow(/Postgres TLS: the server's certificate does not verify \(.+\); check source\.database\.tls \(ca, servername, mode\)/);
  });

  it('servername: verify-full checks the configured name (wrong name refused, right name accepted); verify-ca skips the name', async () => {
    const base = { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
    await expect(tryConnect({ ...base, mode: 'verify-full', servername: 'elsewhere.invalid' })).rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
    expect(await tryConnect({ ...base, mode: 'verify-full', servername: 'tls-test.internal' })).toBe(true);
    expect(await tryConnect({ ...base, mode: 'verify-ca', servername: 'elsewhere.invalid' })).toBe(true);
  });

  it('require encrypts without verifying; the client certificate is still needed by the server (cert auth)', async () => {
    expect(await tryConnect({ mode: 'require', cert: pki.clientCert, key: pki.clientKey })).toBe(true);
    await expect(tryConnect({ mode: 'verify-full', ca: pki.caCert })).rejects.toThrow(/certificate|authentication failed/i);
  });

  it('an encrypted client key works with key.password', async () => {
    expect(await tryConnect({ mode: 'verify-full', ca: pki.caCert, cert: pki.clientCert, key: pki.clientKeyEncrypted, 'key.password': pki.clientKeyPassword })).toBe(true);
  });
});
