/**
 * PostgreSQL: the Debian cluster on the configured port (pre-started on dev machines; on a fresh one
 * `apt-get install postgresql` creates 15/main on 5432). stack:up makes sure it runs with
 * wal_level=logical and enough replication slots / WAL senders — ALTER SYSTEM + a cluster restart
 * when a running cluster is not configured so, a conf.d drop-in when it is not running yet — and that
 * loopback connections use trust auth (dev only). Chosen over a private cluster on another port so
 * that the default URL (postgres://postgres@127.0.0.1:5432/postgres) works everywhere, in compose too.
 * stack:down stops the cluster only if stack:up started it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_PORTS, endpoints } from './endpoints.js';
import { aptEnsure, commandExists } from './install.js';
import { waitFor } from './net.js';
import { serviceDir, shown } from './paths.js';
import { tail } from './proc.js';
import { StackError, type Health, type Service } from './service.js';

const DIR = serviceDir('postgres');
const STARTED_MARKER = join(DIR, 'started-by-stack');
const WANT = { wal_level: 'logical', max_replication_slots: 32, max_wal_senders: 32 } as const;

interface Cluster {
  readonly version: string;
  readonly name: string;
  readonly port: number;
  readonly online: boolean;
  readonly logFile: string;
}

function address(): { host: string; port: number; local: boolean } {
  const url = new URL(endpoints().postgresUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: Number(url.port || DEFAULT_PORTS.postgres), local: ['127.0.0.1', 'localhost', '::1'].includes(host) };
}

/** The Debian cluster (pg_lsclusters) serving the configured port, if any. */
function cluster(): Cluster | undefined {
  if (!commandExists('pg_lsclusters')) return undefined;
  const out = execFileSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  const { port } = address();
  for (const line of out.split('\n')) {
    const [version, name, p, status, , , log] = line.trim().split(/\s+/);
    if (version && name && Number(p) === port) {
      return { version, name, port, online: status?.startsWith('online') ?? false, logFile: log ?? `/var/log/postgresql/postgresql-${version}-${name}.log` };
    }
  }
  return undefined;
}

interface Settings {
  readonly version: string;
  readonly wal_level: string;
  readonly max_replication_slots: number;
  readonly max_wal_senders: number;
}

async function settings(): Promise<Settings> {
  const client = new pg.Client({ connectionString: endpoints().postgresUrl, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    const rows = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level','max_replication_slots','max_wal_senders','server_version')",
    );
    const get = (n: string): string => rows.rows.find((r) => r.name === n)?.setting ?? '';
    return {
      version: get('server_version'),
      wal_level: get('wal_level'),
      max_replication_slots: Number(get('max_replication_slots')),
      max_wal_senders: Number(get('max_wal_senders')),
    };
  } finally {
    await client.end();
  }
}

function configured(s: Settings): boolean {
  return s.wal_level === WANT.wal_level && s.max_replication_slots >= WANT.max_replication_slots && s.max_wal_senders >= WANT.max_wal_senders;
}

async function health(): Promise<Health> {
  try {
    const s = await settings();
    const detail = `version ${s.version}, wal_level=${s.wal_level}, slots=${s.max_replication_slots}, senders=${s.max_wal_senders}`;
    return configured(s) ? { healthy: true, detail } : { healthy: false, detail: `${detail} (needs wal_level=logical; run stack:up)` };
  } catch (err) {
    return { healthy: false, detail: (err as Error).message };
  }
}

function pgctl(c: Cluster, action: 'start' | 'restart' | 'stop'): void {
  const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', c.version, c.name, action], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new StackError('postgres', `pg_ctlcluster ${c.version} ${c.name} ${action} failed: ${r.stderr.trim() || r.stdout.trim()}. Log: ${c.logFile} — last lines:\n${tail(c.logFile)}`);
  }
}

/** For a cluster that is not running: settings via a conf.d drop-in, trust auth for loopback. */
function configureOffline(c: Cluster): void {
  const etc = `/etc/postgresql/${c.version}/${c.name}`;
  const confD = join(etc, 'conf.d');
  mkdirSync(confD, { recursive: true });
  writeFileSync(
    join(confD, 'cdc-fanout.conf'),
    `# Written by cdc-fanout scripts/stack/postgres.ts: logical decoding for the CDC source.\nwal_level = ${WANT.wal_level}\nmax_replication_slots = ${WANT.max_replication_slots}\nmax_wal_senders = ${WANT.max_wal_senders}\n`,
  );
  const hba = join(etc, 'pg_hba.conf');
  if (existsSync(hba)) {
    const text = readFileSync(hba, 'utf8');
    if (!text.includes('# cdc-fanout dev stack')) {
      writeFileSync(
        hba,
        `# cdc-fanout dev stack: passwordless loopback connections (never do this on a shared server)\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nhost replication all 127.0.0.1/32 trust\n${text}`,
      );
    }
  }
}

async function waitReady(c: Cluster | undefined): Promise<void> {
  const res = await waitFor(async () => (await health()).healthy, 60_000);
  if (!res.ok) {
    const log = c?.logFile ?? '(unknown log file)';
    throw new StackError('postgres', `${res.reason}: ${(await health()).detail}. Log: ${log} — last lines:\n${c ? tail(c.logFile) : ''}`);
  }
}

export const postgres: Service = {
  name: 'postgres',
  get endpoint() {
    const { host, port } = address();
    return `${host}:${port}`;
  },
  get logFile() {
    return cluster()?.logFile ?? shown(join(DIR, 'README'));
  },
  async install() {
    const { local } = address();
    if (local && !(await health()).healthy && !commandExists('pg_ctlcluster')) aptEnsure(['postgresql'], 'PostgreSQL');
  },
  health,
  ownedPid: () => undefined,
  async up() {
    const { local, port } = address();
    let current: Settings | undefined;
    try {
      current = await settings();
    } catch {
      current = undefined;
    }
    if (current !== undefined && configured(current)) return `using the running cluster (version ${current.version}, wal_level=logical)`;
    if (!local) throw new StackError('postgres', `${endpoints().postgresUrl} is not reachable or not configured for logical replication (${(await health()).detail}); CDC_PG_URL points at a remote server, which stack:up does not manage.`);
    const c = cluster();
    if (c === undefined) {
      throw new StackError('postgres', `no Debian PostgreSQL cluster on port ${port} (pg_lsclusters). Create one (pg_createcluster --start 15 main -p ${port}) or point CDC_PG_URL at a server with wal_level=logical.`);
    }
    if (current !== undefined) {
      // Running but not configured: ALTER SYSTEM needs a restart for wal_level.
      const client = new pg.Client({ connectionString: endpoints().postgresUrl });
      await client.connect();
      try {
        for (const [k, v] of Object.entries(WANT)) await client.query(`ALTER SYSTEM SET ${k} = '${v}'`);
      } finally {
        await client.end();
      }
      pgctl(c, 'restart');
      await waitReady(c);
      return `reconfigured (ALTER SYSTEM wal_level=logical) and restarted cluster ${c.version}/${c.name}`;
    }
    configureOffline(c);
    pgctl(c, c.online ? 'restart' : 'start');
    mkdirSync(DIR, { recursive: true });
    writeFileSync(STARTED_MARKER, `${c.version} ${c.name}\n`);
    await waitReady(c);
    return `started cluster ${c.version}/${c.name}`;
  },
  async down() {
    if (!existsSync(STARTED_MARKER)) return 'left running (system cluster, not started by stack:up)';
    const c = cluster();
    if (c?.online) pgctl(c, 'stop');
    rmSync(STARTED_MARKER, { force: true });
    return c?.online ? `stopped cluster ${c.version}/${c.name}` : 'not running';
  },
};
