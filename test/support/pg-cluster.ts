/**
 * A real primary and a streaming hot standby of a zonky PostgreSQL build (scripts/stack/zonky.ts),
 * on free ports, in their own temp dirs, for the failover / standby-decoding tests.
 *
 * zonky ships no pg_basebackup, so the standby is made with the low-level backup API: a physical
 * slot on the primary (reserving WAL from now), pg_backup_start() on one session, a file copy of the
 * data dir (without pg_wal contents, pg_replslot, postmaster.pid), pg_backup_stop() → backup_label
 * written into the copy, standby.signal, primary_conninfo (with dbname: slot sync needs it) and
 * primary_slot_name. The standby streams from the physical slot and replays.
 *
 * Skips (returns null from `pgClusterSupport`) when the binaries cannot be had (no Maven, offline)
 * or there is no way to run Postgres as a non-root user.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../scripts/stack/net.js';
import { fullVersion, installPg, pgOsUser, pgRun, runsAsRoot } from '../../scripts/stack/zonky.js';

export interface PgNode {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  readonly major: number;
  /** One statement on a fresh connection (database postgres, user postgres). */
  sql<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  start(): void;
  /** pg_ctl stop -m immediate: like a crash (no shutdown checkpoint; clients see their connections die). */
  crash(): void;
  stop(): void;
  promote(): void;
  readonly log: string;
}

/**
 * The binaries to make clusters with: CDC_PG_BIN (the version matrix, scripts/pg-matrix.ts, points
 * it at the version under test) when it is at least `minMajor`, else zonky's `defaultMajor`; or the
 * reason they are unavailable (then the test skips).
 */
export function pgClusterSupport(defaultMajor: string, minMajor: number): { bin: string; major: number } | { skip: string } {
  if (runsAsRoot && spawnSync('id', ['postgres']).status !== 0) return { skip: 'running as root without a postgres OS user' };
  const given = process.env.CDC_PG_BIN;
  if (given) {
    const out = spawnSync(join(given, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout ?? '';
    const m = /(\d+)(?:\.\d+)?/.exec(out.replace(/^[^\d]*/, ''));
    const major = m ? Number(m[1]) : 0;
    if (major < minMajor) return { skip: `CDC_PG_BIN is PostgreSQL ${major || '?'}; this test needs ${minMajor}+` };
    return { bin: given, major };
  }
  const v = fullVersion(defaultMajor);
  if (!v) return { skip: `unknown PostgreSQL major ${defaultMajor}` };
  try {
    return { bin: join(installPg(v), 'bin'), major: Number(defaultMajor) };
  } catch (e) {
    return { skip: (e as Error).message.split('\n')[0]! };
  }
}

const owner = (): { uid: number; gid: number } | null => pgOsUser();

function chownTree(path: string): void {
  const o = owner();
  if (!o) return;
  spawnSync('chown', ['-R', `${o.uid}:${o.gid}`, path]);
}

function node(name: string, bin: string, major: number, dir: string, port: number, settings: Readonly<Record<string, string | number>>): PgNode {
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  const opts = [`-p ${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${String(v)}`)].join(' ');
  return {
    name,
    port,
    dir,
    major,
    log,
    async sql<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10000 });
      c.on('error', () => undefined);
      await c.connect();
      try {
        return (await c.query(text, params)).rows as R[];
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    start: () => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-o', opts, '-w', '-t', '120', 'start']),
    crash: () => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']),
    stop: () => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
    promote: () => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-w', '-t', '120', 'promote']),
  };
}

/** Settings both nodes run with (a standby must match the primary's max_* settings). */
export function baseSettings(): Record<string, string | number> {
  return {
    wal_level: 'logical',
    max_wal_senders: 20,
    max_replication_slots: 20,
    max_connections: 100,
    hot_standby: 'on',
    hot_standby_feedback: 'on',
    fsync: 'off',
    wal_receiver_status_interval: 1,
  };
}

export interface PgPair {
  readonly primary: PgNode;
  readonly standby: PgNode;
  /** Physical slot of the standby on the primary. */
  readonly physicalSlot: string;
  /** Stops both nodes (immediately) and removes their dirs. */
  destroy(): void;
}

export interface PairOptions {
  /** Extra settings of the primary (e.g. synchronized_standby_slots). */
  readonly primary?: Readonly<Record<string, string | number>>;
  /** Extra settings of the standby (e.g. sync_replication_slots). */
  readonly standby?: Readonly<Record<string, string | number>>;
}

/** initdb + start a primary, then make and start a streaming hot standby of it; waits until it replays. */
export async function startPair(bin: string, major: number, o: PairOptions = {}): Promise<PgPair> {
  const root = mkdtempSync(join(tmpdir(), `cdc-pg${major}-pair-`));
  const pdir = join(root, 'primary');
  const sdir = join(root, 'standby');
  mkdirSync(pdir);
  mkdirSync(sdir);
  chownTree(root);
  const [pport, sport] = [await freePort(), await freePort()];
  const physicalSlot = 'standby1';
  const primary = node('primary', bin, major, pdir, pport, { ...baseSettings(), ...o.primary });
  const nodes: PgNode[] = [];
  const destroy = (): void => {
    for (const n of nodes) {
      try {
        n.crash();
      } catch {
        // not running
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    pgRun(join(bin, 'initdb'), ['-D', join(pdir, 'data'), '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    nodes.push(primary);
    primary.start();
    await primary.sql(`SELECT pg_create_physical_replication_slot($1, true)`, [physicalSlot]);

    // Low-level base backup: the backup session must stay open from start to stop.
    const c = new pg.Client({ host: '127.0.0.1', port: pport, user: 'postgres', database: 'postgres' });
    await c.connect();
    try {
      await c.query(major >= 15 ? `SELECT pg_backup_start('cdc-standby', true)` : `SELECT pg_start_backup('cdc-standby', true, false)`);
      const src = join(pdir, 'data');
      const dst = join(sdir, 'data');
      cpSync(src, dst, {
        recursive: true,
        filter: (p) => {
          const rel = p.slice(src.length + 1);
          return !['postmaster.pid', 'postmaster.opts'].includes(rel) && !/^pg_wal\/.+/.test(rel) && !/^pg_replslot\/.+/.test(rel);
        },
      });
      const stop = (await c.query<{ labelfile: string }>(major >= 15 ? 'SELECT labelfile FROM pg_backup_stop(true)' : 'SELECT labelfile FROM pg_stop_backup(false, true)')).rows[0]!;
      writeFileSync(join(dst, 'backup_label'), stop.labelfile);
    } finally {
      await c.end();
    }
    const dst = join(sdir, 'data');
    mkdirSync(join(dst, 'pg_wal', 'archive_status'), { recursive: true });
    writeFileSync(join(dst, 'standby.signal'), '');
    writeFileSync(
      join(dst, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${pport} user=postgres dbname=postgres application_name=${physicalSlot}'\nprimary_slot_name = '${physicalSlot}'\n`,
      { flag: 'a' },
    );
    chownTree(sdir);
    const standby = node('standby', bin, major, sdir, sport, { ...baseSettings(), ...o.standby });
    nodes.push(standby);
    standby.start();
    // Replaying and connected: the primary lists its walsender as streaming.
    const deadline = Date.now() + 60000;
    for (;;) {
      const r = await primary.sql<{ state: string }>(`SELECT state FROM pg_stat_replication WHERE application_name = $1`, [physicalSlot]);
      if (r[0]?.state === 'streaming') break;
      if (Date.now() > deadline) throw new Error(`standby did not start streaming within 60 s (log ${standby.log})`);
      await new Promise((r2) => setTimeout(r2, 200));
    }
    return { primary, standby, physicalSlot, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

/** Waits until the standby replayed everything the primary wrote so far. */
export async function waitReplayed(pair: PgPair, timeoutMs = 60000): Promise<void> {
  const [{ lsn }] = (await pair.primary.sql<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await pair.standby.sql<{ ok: boolean }>(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok`, [lsn]);
    if (r[0]?.ok) return;
    if (Date.now() > deadline) throw new Error(`standby did not replay up to ${lsn} within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
