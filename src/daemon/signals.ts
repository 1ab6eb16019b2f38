/**
 * Snapshot signals, Debezium style: rows {id, type, data} in the signal table
 * (`source.signal.data.collection`):
 *   execute-snapshot  {"data-collections": ["schema.table", …], "type": "incremental" | "blocking",
 *                      "additional-conditions": [{"data-collection": "schema.table", "filter": "SQL"}]}
 *   pause-snapshot / resume-snapshot  {"type": "incremental"}
 *   stop-snapshot     {"type": "incremental", "data-collections"?: [tables to remove; none: stop it all]}
 * `cdc-fanout snapshot` writes them (writeSignal); the daemon's SignalWatcher sees new rows while
 * the pipeline runs and hands them to the source (src/source: incremental-snapshot.ts, or
 * adhoc-snapshot.ts for "blocking"). Signals present when the watcher starts are treated as
 * already handled (the incremental snapshot's own state survives restarts in the offsets topic).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../observability/logger.js';

export type SignalKind = 'execute' | 'pause' | 'resume' | 'stop';
export const signalTypes: Readonly<Record<string, SignalKind>> = { 'execute-snapshot': 'execute', 'pause-snapshot': 'pause', 'resume-snapshot': 'resume', 'stop-snapshot': 'stop' };

export interface SnapshotSignal {
  readonly id: string;
  readonly kind: SignalKind;
  readonly tables: readonly string[];
  /** additional-conditions: table → SQL filter. */
  readonly conditions: Readonly<Record<string, string>>;
  readonly type: 'incremental' | 'blocking';
}

export interface SignalRecord extends SnapshotSignal {
  readonly receivedAt: string;
  status: 'running' | 'accepted' | 'done' | 'failed' | 'unsupported';
  error?: string;
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export function quoteQualified(table: string): string {
  const [schema, name] = table.split('.') as [string, string];
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** Creates the signal table when missing (Debezium's layout). */
export async function ensureSignalTable(client: pg.Client, table: string): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${quoteQualified(table)} (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL)`);
}

export interface SignalRequest {
  readonly kind: SignalKind;
  readonly tables?: readonly string[];
  readonly conditions?: Readonly<Record<string, string>>;
  readonly type?: 'incremental' | 'blocking';
}

/** The signal row's `data` for a request (Debezium's JSON layout). */
export function signalData(req: SignalRequest): string {
  const type = req.type ?? 'incremental';
  if (req.kind === 'stop' && req.tables?.length) return JSON.stringify({ 'data-collections': req.tables, type });
  if (req.kind !== 'execute') return JSON.stringify({ type });
  const conditions = Object.entries(req.conditions ?? {}).map(([t, filter]) => ({ 'data-collection': t, filter }));
  return JSON.stringify({ 'data-collections': req.tables ?? [], type, ...(conditions.length ? { 'additional-conditions': conditions } : {}) });
}

export async function writeSignal(client: pg.Client, table: string, req: SignalRequest): Promise<string> {
  const id = randomUUID();
  await ensureSignalTable(client, table);
  const type = Object.entries(signalTypes).find(([, k]) => k === req.kind)![0];
  await client.query(`INSERT INTO ${quoteQualified(table)} (id, type, data) VALUES ($1, $2, $3)`, [id, type, signalData(req)]);
  return id;
}

/** Parses a signal row; throws with what is wrong. */
export function parseSignal(id: string, type: string, data: string | null): SnapshotSignal {
  const kind = signalTypes[type];
  if (!kind) throw new Error(`unknown signal type "${type}" (known: ${Object.keys(signalTypes).join(', ')})`);
  let parsed: Record<string, unknown> = {};
  if (data) {
    try {
      parsed = JSON.parse(data) as Record<string, unknown>;
    } catch {
      throw new Error('data is not JSON');
    }
  }
  const list = parsed['data-collections'];
  const tables = Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  const t = String(parsed.type ?? 'incremental').toLowerCase();
  if (t !== 'incremental' && t !== 'blocking') throw new Error(`snapshot type "${String(parsed.type)}" is not supported (use "incremental" or "blocking")`);
  const conditions: Record<string, string> = {};
  const extra = parsed['additional-conditions'];
  if (extra !== undefined) {
    if (!Array.isArray(extra)) throw new Error('additional-conditions must be a list of {"data-collection": "schema.table", "filter": "SQL"}');
    for (const c of extra as unknown[]) {
      const o = c as Record<string, unknown>;
      if (typeof o?.['data-collection'] !== 'string' || typeof o.filter !== 'string') throw new Error('each additional-conditions entry needs "data-collection" and "filter" strings');
      conditions[o['data-collection']] = o.filter;
    }
  }
  if (t === 'blocking' && Object.keys(conditions).length > 0) throw new Error('additional-conditions apply to incremental snapshots only');
  return { id, kind, tables, conditions, type: t };
}

export interface SignalWatcherOptions {
  readonly client: () => pg.Client;
  readonly table: string;
  readonly logger: Logger;
  readonly intervalMs?: number;
  /**
   * The source's hook; resolves with `done` (a blocking snapshot finished, a control applied) or
   * `accepted` (an incremental snapshot requested; its progress is in the status). Undefined when
   * the source cannot snapshot (the signal is marked unsupported).
   */
  readonly execute: ((signal: SnapshotSignal) => Promise<'done' | 'accepted'>) | undefined;
}

export class SignalWatcher {
  private readonly seen = new Set<string>();
  readonly records: SignalRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private client: pg.Client | undefined;
  private polling = false;

  constructor(private readonly opts: SignalWatcherOptions) {}

  async start(): Promise<void> {
    this.client = this.opts.client();
    // The server dropping this idle connection (Postgres crashed or failed over) is an 'error' event
    // on the client; unhandled, it killed the whole daemon. The polls then fail (logged) until the
    // source — which loses the server too — is restarted by its supervisor with a fresh watcher.
    this.client.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'signal table connection to Postgres lost'));
    await this.client.connect();
    await ensureSignalTable(this.client, this.opts.table);
    for (const r of (await this.client.query<{ id: string }>(`SELECT id FROM ${quoteQualified(this.opts.table)}`)).rows) this.seen.add(r.id);
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.client) return;
    this.polling = true;
    try {
      const types = Object.keys(signalTypes);
      const rows = (await this.client.query<{ id: string; type: string; data: string | null }>(`SELECT id, type, data FROM ${quoteQualified(this.opts.table)} WHERE type = ANY($1)`, [types])).rows;
      for (const r of rows) {
        if (this.seen.has(r.id)) continue;
        this.seen.add(r.id);
        let signal: SnapshotSignal;
        try {
          signal = parseSignal(r.id, r.type, r.data);
        } catch (e) {
          this.opts.logger.warn({ signal: r.id, type: r.type }, `signal ${r.id} (${r.type}) ignored: ${(e as Error).message}`);
          continue;
        }
        const rec: SignalRecord = { ...signal, receivedAt: new Date().toISOString(), status: 'running' };
        this.records.push(rec);
        if (this.records.length > 20) this.records.shift();
        if (!this.opts.execute) {
          rec.status = 'unsupported';
          rec.error = 'this source does not implement snapshots on signals';
          this.opts.logger.warn({ signal: r.id }, `${r.type} signal ${r.id} received, but ${rec.error}`);
          continue;
        }
        this.opts.logger.info({ signal: r.id, tables: signal.tables, type: signal.type }, `${r.type} signal ${r.id}${signal.tables.length ? `: ${signal.tables.join(', ')}` : ''}`);
        this.opts.execute(signal).then(
          (how) => {
            rec.status = how;
          },
          (err: unknown) => {
            rec.status = 'failed';
            rec.error = err instanceof Error ? err.message : String(err);
            this.opts.logger.error({ signal: r.id, err: rec.error }, `${r.type} signal ${r.id} failed`);
          },
        );
      }
    } catch (err) {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'signal table poll failed');
    } finally {
      this.polling = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
