/**
 * Ad-hoc snapshot signals, Debezium style: a row {id, type: 'execute-snapshot',
 * data: {"data-collections": ["schema.table", …], "type": "incremental"}} in the signal table
 * (`source.signal.data.collection`). `cdc-fanout snapshot` writes it (writeSnapshotSignal); the
 * daemon's SignalWatcher sees new rows while the pipeline runs and hands them to the source's
 * `executeSnapshot` hook. Signals present when the watcher starts are treated as already handled.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../observability/logger.js';

export interface SnapshotSignal {
  readonly id: string;
  readonly tables: readonly string[];
}

export interface SignalRecord extends SnapshotSignal {
  readonly receivedAt: string;
  status: 'running' | 'done' | 'failed' | 'unsupported';
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

export async function writeSnapshotSignal(client: pg.Client, table: string, tables: readonly string[]): Promise<string> {
  const id = randomUUID();
  await ensureSignalTable(client, table);
  await client.query(`INSERT INTO ${quoteQualified(table)} (id, type, data) VALUES ($1, 'execute-snapshot', $2)`, [id, JSON.stringify({ 'data-collections': tables, type: 'incremental' })]);
  return id;
}

export function parseSignalData(data: string | null): string[] {
  if (!data) return [];
  const parsed = JSON.parse(data) as { 'data-collections'?: unknown };
  const list = parsed['data-collections'];
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

export interface SignalWatcherOptions {
  readonly client: () => pg.Client;
  readonly table: string;
  readonly logger: Logger;
  readonly intervalMs?: number;
  /** The source's hook; undefined when the source cannot re-snapshot (the signal is marked unsupported). */
  readonly execute: ((signal: SnapshotSignal) => Promise<void>) | undefined;
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
      const rows = (await this.client.query<{ id: string; type: string; data: string | null }>(`SELECT id, type, data FROM ${quoteQualified(this.opts.table)} WHERE type = 'execute-snapshot'`)).rows;
      for (const r of rows) {
        if (this.seen.has(r.id)) continue;
        this.seen.add(r.id);
        let tables: string[];
        try {
          tables = parseSignalData(r.data);
        } catch {
          this.opts.logger.warn({ signal: r.id }, 'signal data is not JSON; ignored');
          continue;
        }
        const rec: SignalRecord = { id: r.id, tables, receivedAt: new Date().toISOString(), status: 'running' };
        this.records.push(rec);
        if (this.records.length > 20) this.records.shift();
        if (!this.opts.execute) {
          rec.status = 'unsupported';
          rec.error = 'this source does not implement ad-hoc snapshots (PostgresSource.executeSnapshot)';
          this.opts.logger.warn({ signal: r.id, tables }, `execute-snapshot signal ${r.id} received, but ${rec.error}`);
          continue;
        }
        this.opts.logger.info({ signal: r.id, tables }, `execute-snapshot signal ${r.id}: re-snapshotting ${tables.join(', ')}`);
        this.opts.execute({ id: r.id, tables }).then(
          () => {
            rec.status = 'done';
          },
          (err: unknown) => {
            rec.status = 'failed';
            rec.error = err instanceof Error ? err.message : String(err);
            this.opts.logger.error({ signal: r.id, err: rec.error }, 'ad-hoc snapshot failed');
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
