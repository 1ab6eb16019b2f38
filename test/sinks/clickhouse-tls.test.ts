/**
 * The ClickHouse sink over https with a password user (issue 15.4), against a private
 * clickhouse-server (Debian's 18.16 build serves `https_port`) on free ports with its own config and
 * data dir — the shared server is never touched: https only, client certificates required
 * (verificationMode strict), one user with a password. The sink creates its tables and applies a
 * batch with `tls` + `auth`; a foreign CA, a wrong name, a missing client certificate and a wrong
 * password are refused with errors naming what to check. Certificates: test/support/certs.ts.
 * Skipped without openssl or clickhouse-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { SinkError } from '../../src/sinks/sink.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';

const BINARY = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'].find((b) => existsSync(b));
const canRun = hasOpenssl && BINARY !== undefined;
const USER = 'cdc';
const PASSWORD = 'cdc-ch-pass';

let dir = '';
let httpsPort = 0;
let pki: TestPki;
let server: ChildProcess | undefined;

function configXml(tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/err.log</errorlog><size>10M</size><count>1</count></logger>
  <https_port>${httpsPort}</https_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <openSSL><server>
    <certificateFile>${pki.serverCert}</certificateFile>
    <privateKeyFile>${pki.serverKey}</privateKeyFile>
    <caConfig>${pki.caCert}</caConfig>
    <verificationMode>strict</verificationMode>
    <loadDefaultCAFile>false</loadDefaultCAFile>
    <cacheSessions>true</cacheSessions>
    <disableProtocols>sslv2,sslv3</disableProtocols>
    <preferServerCiphers>true</preferServerCiphers>
  </server></openSSL>
  <path>${dir}/data/</path><tmp_path>${dir}/data/tmp/</tmp_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>33554432</uncompressed_cache_size>
  <timezone>UTC</timezone><mlock_executable>false</mlock_executable>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><${USER}><password>${PASSWORD}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></${USER}></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/** A query over https with the test CA and client certificate (independent of the sink's code). */
function query(sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: httpsPort, path: `/?query=${encodeURIComponent(sql)}`, method: 'GET', auth: `${USER}:${PASSWORD}`, ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-ch-tls-'));
  pki = makePki(join(dir, 'pki'));
  httpsPort = await freePort();
  mkdirSync(join(dir, 'data', 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'config.xml'), configXml(await freePort()));
  writeFileSync(join(dir, 'users.xml'), USERS_XML);
  const out = openSync(join(dir, 'stdout.log'), 'a');
  server = spawn(BINARY as string, [`--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: ['ignore', out, out] });
  for (let i = 0; ; i++) {
    try {
      await query('SELECT 1');
      return;
    } catch (err) {
      if (i > 120 || server.exitCode !== null) throw new Error(`private ClickHouse did not come up: ${(err as Error).message}\n${existsSync(join(dir, 'err.log')) ? readFileSync(join(dir, 'err.log'), 'utf8').slice(-2000) : ''}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server!.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

function sink(extra: Record<string, unknown>): ClickHouseSink {
  return new ClickHouseSink({
    config: clickhouseSpec.parse({ 'connection.url': `https://127.0.0.1:${httpsPort}`, database: 'cdc_tls', 'request.timeout.ms': 10_000, ...extra }),
    group: 'tls-test',
    logger: silentLogger,
  });
}

/** open() of a sink with `extra`: null when it connects, else the error. */
async function openError(extra: Record<string, unknown>): Promise<unknown> {
  const s = sink(extra);
  try {
    await s.open();
    return null;
  } catch (err) {
    return err;
  } finally {
    await s.close();
  }
}

const auth = { username: USER, password: PASSWORD };
const mtls = () => ({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });

describe.skipIf(!canRun)('ClickHouse sink over https (private clickhouse-server: https only, client certificates required, password user)', () => {
  it('creates its tables and applies a batch with tls + auth; the offsets land in the checkpoint table', async () => {
    const s = sink({ auth, tls: mtls() });
    await s.open();
    try {
      const batch = sinkBatch([sinkRecord({ table: 'users', op: 'c', after: { id: 1, name: 'over https' }, position: pos(1) })]);
      const r = await s.write(batch);
      expect(r.rejected).toEqual([]);
      await s.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
      expect(await query('SELECT name FROM cdc_tls.public_users FINAL WHERE id = 1')).toBe('over https\n');
      expect(await query(`SELECT offset FROM cdc_tls.cdc_fanout_checkpoints FINAL WHERE topic = '${batch.topic}'`)).toBe('1\n');
    } finally {
      await s.close();
    }
  });

  it('servername: verify-full checks the configured name; verify-ca accepts any name on a CA-signed certificate', async () => {
    expect(await openError({ auth, tls: { ...mtls(), servername: 'tls-test.internal' } })).toBeNull();
    const wrong = await openError({ auth, tls: { ...mtls(), servername: 'elsewhere.invalid' } });
    expect(wrong).toBeInstanceOf(SinkError);
    expect((wrong as SinkError).message).toMatch(/does not verify.*check the sink's tls \(ca, servername, mode\)/);
    expect(await openError({ auth, tls: { ...mtls(), mode: 'verify-ca', servername: 'elsewhere.invalid' } })).toBeNull();
  });

  it('a foreign CA is refused, non-retriable, naming the tls settings', async () => {
    const err = await openError({ auth, tls: { ...mtls(), ca: pki.otherCaCert } });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/does not verify.*check the sink's tls/);
  });

  it('without a client certificate the server refuses the handshake', async () => {
    expect(await openError({ auth, tls: { ca: pki.caCert } })).toBeInstanceOf(SinkError);
  });

  it('a wrong password is refused, non-retriable, naming auth', async () => {
    const err = await openError({ auth: { username: USER, password: 'wrong' }, tls: mtls() });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/code 193.*check the sink's auth/s);
  });
});
