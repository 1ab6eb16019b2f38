/**
 * Postgres over TLS (issue 15.4), against a private throwaway cluster (initdb as the postgres OS
 * user, own port and data dir — the shared server is never touched) with ssl=on and a pg_hba.conf
 * that accepts only TLS connections authenticated by a client certificate (CN = user): the source
 * snapshots and streams with `database.tls` (every one of its connections — replication, snapshot,
 * heartbeat, health — is encrypted, as pg_stat_ssl shows), and each wrong setting fails to connect
 * with the server's or the TLS layer's reason. Certificates: a throwaway CA (test/support/certs.ts).
 * Skipped when no initdb/runuser/openssl is available.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsSettings } from '../../src/config/tls.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { parseSourceConfig } from '../../src/source/config.js';
import { clientConfig } from '../../src/source/connection.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { cleanup, consume, kafkaConfig, uniq, waitFor } from './helpers.js';

function pgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}
const bin = pgBin();
const canRun = hasOpenssl && bin !== null && spawnSync('runuser', ['--help']).status === 0 && spawnSync('id', ['postgres']).status === 0;

const id = uniq('src_tls');
const prefix = id.replace(/_/g, '-');
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;
const sources: PostgresSource[] = [];
let dir = '';
let port = 0;
let pki: TestPki;

const asPostgres = (cmd: string, args: string[]): string => execFileSync('runuser', ['-u', 'postgres', '--', join(bin!, cmd), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Setup queries over the Unix socket (trust): TCP only takes TLS with a client certificate. */
async function sql(text: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

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
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  // Client certificate CN = the database user: pg_hba's `cert` method maps it.
  pki = makePki(join(dir, 'pki'), 'postgres');
  port = await freePort();
  const data = join(dir, 'data');
  asPostgres('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  for (const f of ['server.crt', 'server.key', 'ca.crt']) {
    copyFileSync(join(pki.dir, f), join(data, f));
    chownSync(join(data, f), uid, gid);
    chmodSync(join(data, f), 0o600);
  }
  writeFileSync(
    join(data, 'pg_hba.conf'),
    [
      'local all all trust',
      'hostssl all postgres 127.0.0.1/32 cert',
      'hostssl replication postgres 127.0.0.1/32 cert',
      'hostnossl all all 127.0.0.1/32 reject',
      'hostnossl replication all 127.0.0.1/32 reject',
      '',
    ].join('\n'),
  );
  chownSync(join(data, 'pg_hba.conf'), uid, gid);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c wal_level=logical -c fsync=off -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c ssl_ca_file=ca.crt`;
  asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', 'start']);
  await sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(`INSERT INTO t VALUES (1, 'snapshot row')`);
});

afterAll(async () => {
  for (const s of sources) await Promise.race([s.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10000))]);
  if (!canRun || !dir) return;
  spawnSync('runuser', ['-u', 'postgres', '--', join(bin!, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  rmSync(dir, { recursive: true, force: true });
  await cleanup({ topicPrefix: prefix });
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
