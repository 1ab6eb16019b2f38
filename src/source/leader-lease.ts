/**
 * The leadership lease of a pipeline's source (daemon HA: several daemons run the same config; one
 * runs the source, the others wait as STANDBY).
 *
 * The lease is a session-level Postgres advisory lock keyed by the slot name, taken on a dedicated
 * connection to the slot's database and held for the whole life of the active source — set-up,
 * snapshot and streaming. The replication slot alone cannot serve as the lease: it is inactive while
 * the source sets up and while it snapshots (no walsender holds it then), so a standby that watched
 * only the slot would take over from a healthy instance in the middle of its snapshot, and two
 * standbys that saw the slot free at the same moment would both start.
 *
 * Invariant: a source proceeds past `tryAcquire` (and so initialises the Kafka transactional id,
 * which fences its predecessor) only while it holds the lease AND no walsender of this pipeline
 * streams the slot (a predecessor's walsender lives on until wal_sender_timeout when its host
 * vanished). Whose lease and walsender it is, the application_name tells (`cdc-fanout:<pipeline>`,
 * `…:lease`): only instances of the SAME pipeline wait for each other. A slot held by another
 * pipeline or client is not a standby situation — the source goes on and fails loudly in the
 * existing checks (slot active in another process; slot not owned), as without HA.
 *
 * Release: the lock goes with the connection. A process that dies (kill -9, OOM, crash) has its
 * socket closed by the kernel and Postgres ends the backend at once. A host that vanishes without
 * closing its sockets (power loss, partition) is noticed by Postgres through TCP keepalives, which
 * this connection sets from `standby.lease.timeout.ms` (tcp_keepalives_idle/interval/count, and
 * tcp_user_timeout for unacknowledged data).
 */
import pg from 'pg';
import { clientConfig } from './connection.js';
import type { SourceConfig } from './config.js';

/** First key of the two-key advisory lock: "cdcf" (the second is hashtext(slot name)). */
export const LEASE_LOCK_CLASS = 0x63646366;

export interface LeaseHolder {
  /** Postgres backend pid of the holder's lease connection. */
  readonly pid: number;
  readonly applicationName: string | null;
  readonly clientAddr: string | null;
  /** When the holder's lease connection started (ISO), i.e. about when it became active. */
  readonly since: string | null;
}

export type LeaseAttempt =
  /** Lease held and the slot free: go on. */
  | { readonly kind: 'acquired' }
  /** Lease or slot held by another pipeline or client: go on without the lease; the slot checks fail loudly. */
  | { readonly kind: 'foreign'; readonly what: string }
  /** Another process holds the lease. */
  | { readonly kind: 'held-elsewhere'; readonly holder: LeaseHolder | null }
  /** This process holds the lease, but a walsender still streams the slot. */
  | { readonly kind: 'slot-active'; readonly activePid: number; readonly applicationName: string | null; readonly clientAddr: string | null };

/** Server-side keepalive settings for a lease timeout: idle + count × interval ≈ timeout. */
export function keepaliveOptions(timeoutMs: number): string {
  const total = Math.max(3, Math.round(timeoutMs / 1000));
  const idle = Math.max(1, Math.floor(total / 2));
  const interval = Math.max(1, Math.floor((total - idle) / 3));
  return `-c tcp_keepalives_idle=${idle} -c tcp_keepalives_interval=${interval} -c tcp_keepalives_count=3 -c tcp_user_timeout=${total * 1000}`;
}

export class LeaderLease {
  private client: pg.Client | null = null;
  private held = false;
  private lostHandler: ((e: Error) => void) | null = null;
  private released = false;

  /** application_name of this pipeline's walsender and of its lease connection (as the server stores them: ≤ 63 bytes). */
  private readonly appName: string;
  private readonly leaseAppName: string;

  constructor(private readonly cfg: SourceConfig) {
    const app = clientConfig(cfg).application_name ?? `cdc-fanout:${cfg.name}`;
    this.appName = app.slice(0, 63);
    this.leaseAppName = `${app}:lease`.slice(0, 63);
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Called once when the lease connection breaks while the lease is held. */
  onLost(fn: (e: Error) => void): void {
    this.lostHandler = fn;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const base = clientConfig(this.cfg);
    const c = new pg.Client({
      ...base,
      application_name: this.leaseAppName,
      keepAlive: true,
      options: keepaliveOptions(this.cfg['standby.lease.timeout.ms']),
    });
    const broke = (why: string) => (err?: Error): void => {
      const was = this.held;
      this.held = false;
      if (this.client === c) this.client = null;
      if (was && !this.released) {
        const h = this.lostHandler;
        this.lostHandler = null;
        h?.(new Error(`lost the leadership lease of slot "${this.cfg['slot.name']}": its Postgres connection ${why}${err ? ` (${err.message})` : ''}; another daemon may take over — this one stops and waits as standby`));
      }
    };
    c.on('error', broke('failed'));
    c.on('end', broke('closed'));
    await c.connect();
    // A server-wide idle_session_timeout (PG 14+) must not end the lease of an idle active source.
    await c.query('SET idle_session_timeout = 0').catch(() => undefined);
    this.client = c;
    return c;
  }

  /** One attempt: take the lock if free, then check the slot is not streamed by anyone. */
  async tryAcquire(): Promise<LeaseAttempt> {
    const c = await this.connection();
    const slot = this.cfg['slot.name'];
    if (!this.held) {
      const r = await c.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS got', [LEASE_LOCK_CLASS, slot]);
      if (!r.rows[0]?.got) {
        const holder = await this.holder(c);
        if (holder && holder.applicationName !== null && holder.applicationName !== this.leaseAppName) {
          return { kind: 'foreign', what: `the lease of slot "${slot}" is held by ${holder.applicationName} (backend ${holder.pid})` };
        }
        return { kind: 'held-elsewhere', holder };
      }
      this.held = true;
    }
    const s = (
      await c.query<{ active_pid: number | null; application_name: string | null; client_addr: string | null }>(
        `SELECT s.active_pid, a.application_name, a.client_addr::text
           FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
          WHERE s.slot_name = $1`,
        [slot],
      )
    ).rows[0];
    if (s?.active_pid != null) {
      if (s.application_name !== this.appName) return { kind: 'foreign', what: `slot "${slot}" is streamed by ${s.application_name ?? 'an unknown client'} (walsender ${s.active_pid})` };
      return { kind: 'slot-active', activePid: s.active_pid, applicationName: s.application_name, clientAddr: s.client_addr };
    }
    return { kind: 'acquired' };
  }

  private async holder(c: pg.Client): Promise<LeaseHolder | null> {
    const r = (
      await c.query<{ pid: number; application_name: string | null; client_addr: string | null; since: Date | null }>(
        `SELECT l.pid, a.application_name, a.client_addr::text, a.backend_start AS since
           FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = ($1::int)::oid AND l.objid = (hashtext($2))::oid AND l.objsubid = 2
          LIMIT 1`,
        [LEASE_LOCK_CLASS, this.cfg['slot.name']],
      )
    ).rows[0];
    return r ? { pid: r.pid, applicationName: r.application_name, clientAddr: r.client_addr, since: r.since ? r.since.toISOString() : null } : null;
  }

  /** Gives the lease up (closing the connection releases the lock). Safe to call twice. */
  async release(): Promise<void> {
    this.released = true;
    this.held = false;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}

/** The STANDBY reason shown in status for an attempt that did not acquire. */
export function standbyReason(a: Extract<LeaseAttempt, { kind: 'held-elsewhere' | 'slot-active' }>, slot: string): string {
  if (a.kind === 'held-elsewhere') {
    const h = a.holder;
    const who = h ? `Postgres backend ${h.pid}${h.applicationName ? ` (${h.applicationName}` : ' ('}${h.clientAddr ? ` from ${h.clientAddr}` : ' via a local socket'}${h.since ? `, since ${h.since}` : ''})` : 'another process';
    return `standby: another daemon runs this pipeline's source (lease of slot "${slot}" held by ${who}); taking over when it stops`;
  }
  return (
    `standby: holding the lease, waiting for slot "${slot}" to be released by walsender pid ${a.activePid}` +
    `${a.applicationName ? ` (${a.applicationName}${a.clientAddr ? ` from ${a.clientAddr}` : ''})` : ''}` +
    ` — this pipeline's previous instance; its walsender ends when Postgres notices the connection is gone (at once after a crash, within wal_sender_timeout when its host vanished)`
  );
}
