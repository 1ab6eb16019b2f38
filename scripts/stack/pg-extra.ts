/**
 * Extra PostgreSQL versions next to the stack's own Debian cluster: `npm run stack:up -- --pg 17`
 * (or `--pg 16,18`) runs a zonky build (scripts/stack/zonky.ts: the real server from Maven Central)
 * with its own data dir under .stack/pg<major>/ and its own port — CDC_PG<major>_PORT, default
 * 5400 + major (5416, 5417, 5418) — with wal_level=logical and room for replication slots, so a
 * pipeline or a test can point at it (`CDC_PG_URL=postgres://postgres@127.0.0.1:5417/postgres`).
 * As root the server runs as the `postgres` OS user (initdb and postgres refuse root).
 * stack:status and stack:down include every extra version that has a data dir; `--clean` wipes it.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { managedDown, managedUp, type ManagedSpec } from './managed.js';
import { serviceDir, STATE_DIR } from './paths.js';
import { runningPid } from './proc.js';
import { StackError, type Health, type Service } from './service.js';
import { fullVersion, installPg, LATEST, PG_DIR, pgOsUser, pgRun } from './zonky.js';

const HOST = '127.0.0.1';

function portOf(major: string): number {
  const env = process.env[`CDC_PG${major}_PORT`];
  if (env === undefined || env === '') return 5400 + Number(major);
  const port = Number(env);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError(`pg${major}`, `CDC_PG${major}_PORT=${env} is not a port number (1–65535)`);
  }
  return port;
}

/** The extra-Postgres service for one major version (`17`) or full version (`17.5.0`). */
export function extraPostgres(v: string): Service {
  const version: string =
    fullVersion(v) ??
    ((): never => {
      throw new StackError('pg', `--pg ${v}: not a known major (${Object.keys(LATEST).join(', ')}), "newest" or a full version like 17.5.0`);
    })();
  const major = version.split('.')[0]!;
  const name = `pg${major}`;
  const dir = serviceDir(name);
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  const port = portOf(major);
  const url = `postgres://postgres@${HOST}:${port}/postgres`;

  async function health(): Promise<Health> {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = await c.query<{ v: string; wal: string }>("SELECT current_setting('server_version') AS v, current_setting('wal_level') AS wal");
      const row = r.rows[0]!;
      return row.wal === 'logical'
        ? { healthy: true, detail: `PostgreSQL ${row.v}, wal_level=logical` }
        : { healthy: false, detail: `PostgreSQL ${row.v} answers on ${port} with wal_level=${row.wal}, not logical: not ours? stop it or set CDC_PG${major}_PORT` };
    } catch (err) {
      return { healthy: false, detail: (err as Error).message };
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  function spec(): ManagedSpec {
    const bin = join(installPg(version), 'bin');
    const owner = pgOsUser();
    const server = [
      join(bin, 'postgres'),
      '-D', data,
      '-p', String(port),
      '-c', `listen_addresses=${HOST}`,
      '-c', `unix_socket_directories=${dir}`,
      '-c', 'wal_level=logical',
      '-c', 'max_replication_slots=32',
      '-c', 'max_wal_senders=32',
      '-c', 'max_connections=200',
    ];
    return {
      name,
      host: HOST,
      ports: [port],
      envHint: `CDC_PG${major}_PORT`,
      logFile: log,
      startTimeoutMs: 60_000,
      stopGraceMs: 15_000,
      // SIGINT is Postgres' fast shutdown (SIGTERM would wait for every client, e.g. a running daemon).
      stopSignal: 'SIGINT',
      health,
      async prepare(clean) {
        if (clean) rmSync(data, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        if (owner) chownSync(dir, owner.uid, owner.gid);
        if (!existsSync(join(data, 'PG_VERSION'))) {
          pgRun(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C']);
        }
      },
      launch() {
        // setpriv execs the server in place (no intermediate process), so the pid file names postgres itself.
        const [command, ...args] = owner ? ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--init-groups', ...server] : server;
        return { command: command!, args, cwd: dir, logFile: log, pidFile: join(dir, 'postgres.pid'), marker: data };
      },
    };
  }

  return {
    name,
    endpoint: url,
    logFile: log,
    async install() {
      installPg(version);
    },
    health,
    ownedPid: () => (existsSync(join(installPgHome(version), 'bin', 'postgres')) ? runningPid(spec().launch()) : undefined),
    up: ({ clean }) => managedUp(spec(), clean),
    down: () => (existsSync(join(installPgHome(version), 'bin', 'postgres')) ? managedDown(spec()) : Promise.resolve('not running')),
  };
}

function installPgHome(version: string): string {
  return join(PG_DIR, version);
}

/** Extra versions that have a data dir under .stack/ (what status and down include without --pg). */
export function extraPostgresPresent(): Service[] {
  if (!existsSync(STATE_DIR)) return [];
  return readdirSync(STATE_DIR)
    .filter((d) => /^pg\d+$/.test(d) && LATEST[d.slice(2)] !== undefined && existsSync(join(STATE_DIR, d, 'data')))
    .map((d) => extraPostgres(d.slice(2)));
}
