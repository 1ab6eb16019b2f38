/**
 * Private TLS-only servers for the TLS tests, each on free ports with its own temp dir (the shared
 * stack's services are never touched), all trusting the test CA of certs.ts:
 *   - Postgres: initdb as the postgres OS user, ssl=on, pg_hba accepting only `hostssl … cert`
 *     (client certificate CN = user) over TCP; setup queries go over the Unix socket (trust).
 *   - Redis: `--port 0 --tls-port`, client certificates required, default user off, one ACL user.
 *   - ClickHouse (Debian's 18.16): `https_port` only, client certificates required, one password user.
 * Kafka with SASL_SSL lives in kafka-tls-broker.ts.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import pg from 'pg';
import type { TestPki } from './certs.js';
import { freePort } from './ports.js';

function pgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}
const PG_BIN = pgBin();
export const canRunPostgres = PG_BIN !== null && spawnSync('runuser', ['--help']).status === 0 && spawnSync('id', ['postgres']).status === 0;
export const canRunRedis = spawnSync('redis-server', ['--version']).status === 0;
const CH_BINARY = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'].find((b) => existsSync(b));
export const canRunClickHouse = CH_BINARY !== undefined;

export interface TlsPostgres {
  readonly port: number;
  /** Runs SQL as postgres over the Unix socket. */
  sql(text: string): Promise<Record<string, unknown>[]>;
  stop(): void;
}

const postgresIds = (): { uid: number; gid: number } => ({
  uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
});

/** `dir` must be owned by the postgres OS user (see chownForPostgres); `pki` made with clientCn 'postgres'. */
export async function startTlsPostgres(dir: string, pki: TestPki): Promise<TlsPostgres> {
  const bin = PG_BIN as string;
  const asPostgres = (cmd: string, args: string[]): string => execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const { uid, gid } = postgresIds();
  const port = await freePort();
  const data = join(dir, 'data');
  asPostgres('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  for (const f of ['server.crt', 'server.key', 'ca.crt']) {
    copyFileSync(join(pki.dir, f), join(data, f));
    chownSync(join(data, f), uid, gid);
    chmodSync(join(data, f), 0o600);
  }
  writeFileSync(
    join(data, 'pg_hba.conf'),
    ['local all all trust', 'hostssl all postgres 127.0.0.1/32 cert', 'hostssl replication postgres 127.0.0.1/32 cert', 'hostnossl all all 127.0.0.1/32 reject', 'hostnossl replication all 127.0.0.1/32 reject', ''].join('\n'),
  );
  chownSync(join(data, 'pg_hba.conf'), uid, gid);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c wal_level=logical -c fsync=off -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c ssl_ca_file=ca.crt`;
  asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', 'start']);
  return {
    port,
    async sql(text) {
      const c = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        return (await c.query(text)).rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
    stop() {
      spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
    },
  };
}

/** Gives `dir` to the postgres OS user (initdb runs as it). */
export function chownForPostgres(dir: string): void {
  const { uid, gid } = postgresIds();
  chownSync(dir, uid, gid);
}

export interface TlsRedis {
  readonly port: number;
  stop(): void;
}

export const REDIS_USER = 'cdc';
export const REDIS_PASSWORD = 'cdc-acl-pass';

export async function startTlsRedis(dir: string, pki: TestPki): Promise<TlsRedis> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const pidfile = join(dir, 'redis.pid');
  execFileSync('redis-server', [
    '--port', '0',
    '--tls-port', String(port),
    '--bind', '127.0.0.1',
    '--tls-cert-file', pki.serverCert,
    '--tls-key-file', pki.serverKey,
    '--tls-ca-cert-file', pki.caCert,
    '--tls-auth-clients', 'yes',
    '--user', 'default', 'off',
    '--user', REDIS_USER, 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all',
    '--save', '',
    '--dir', dir,
    '--daemonize', 'yes',
    '--pidfile', pidfile,
    '--logfile', join(dir, 'redis.log'),
  ]);
  return {
    port,
    stop() {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
      } catch {
        // not started or already gone
      }
    },
  };
}

export interface TlsClickHouse {
  readonly httpsPort: number;
  /** A query over https with the test CA, client certificate and the password user. */
  query(sql: string): Promise<string>;
  stop(): Promise<void>;
}

export const CH_USER = 'cdc';
export const CH_PASSWORD = 'cdc-ch-pass';

export async function startTlsClickHouse(dir: string, pki: TestPki): Promise<TlsClickHouse> {
  mkdirSync(join(dir, 'data', 'tmp'), { recursive: true });
  const httpsPort = await freePort();
  const tcpPort = await freePort();
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
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
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><${CH_USER}><password>${CH_PASSWORD}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></${CH_USER}></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const out = openSync(join(dir, 'stdout.log'), 'a');
  const server: ChildProcess = spawn(CH_BINARY as string, [`--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: ['ignore', out, out] });
  const exited = new Promise((r) => server.once('exit', r));
  const query = (sql: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: httpsPort, path: `/?query=${encodeURIComponent(sql)}`, method: 'GET', auth: `${CH_USER}:${CH_PASSWORD}`, ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
        },
      );
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; ; i++) {
    try {
      await query('SELECT 1');
      break;
    } catch (err) {
      if (i > 120 || server.exitCode !== null) throw new Error(`private ClickHouse did not come up: ${(err as Error).message}\n${existsSync(join(dir, 'err.log')) ? readFileSync(join(dir, 'err.log'), 'utf8').slice(-2000) : ''}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return {
    httpsPort,
    query,
    async stop() {
      if (server.exitCode !== null) return;
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
