/**
 * The verify run's write load: one writer connection doing small transactions of mixed changes on
 * three tables — accounts (bigint key, numeric, boolean), docs (a TOASTed text body, REPLICA
 * IDENTITY FULL) and items (text key, written through to Redis, REPLICA IDENTITY FULL) — with
 * inserts, updates (some leaving the TOASTed body unchanged), primary-key updates and deletes.
 *
 * Invariant: the in-memory model (which keys exist, which keys were touched, how many change events
 * Kafka must hold) is updated only after COMMIT returned, so it is exactly what Postgres holds.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Rng } from './rng.js';

export const TABLES = ['accounts', 'docs', 'items'] as const;
export type TableName = (typeof TABLES)[number];

export const DDL = [
  'CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, balance numeric(12,2) NOT NULL, active boolean NOT NULL, visits int NOT NULL)',
  'CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL)',
  'ALTER TABLE docs REPLICA IDENTITY FULL',
  'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty int NOT NULL, price numeric(10,2) NOT NULL)',
  'ALTER TABLE items REPLICA IDENTITY FULL',
];

export interface LoadStats {
  transactions: number;
  inserts: number;
  updates: number;
  toastUnchangedUpdates: number;
  pkUpdates: number;
  deletes: number;
  /** Change events (c/u/d, not snapshot reads) Kafka must hold once each: a PK update is d + c. */
  expectedChangeEvents: number;
  errors: number;
}

type Op = () => { sql: string; params: unknown[]; apply: () => void };

/** A body larger than the TOAST threshold that does not compress, so Postgres stores it out of line. */
function bigBody(r: Rng): string {
  return randomBytes(r.int(2500, 6000)).toString('base64');
}
const money = (r: Rng, max: number): string => (r.int(0, max * 100) / 100).toFixed(2);

export class Load {
  readonly stats: LoadStats = { transactions: 0, inserts: 0, updates: 0, toastUnchangedUpdates: 0, pkUpdates: 0, deletes: 0, expectedChangeEvents: 0, errors: 0 };
  /** Keys (as text) changed by the load after the cache was filled, per table. */
  readonly touched: Record<TableName, Set<string>> = { accounts: new Set(), docs: new Set(), items: new Set() };
  private readonly keys: Record<TableName, string[]> = { accounts: [], docs: [], items: [] };
  private nextId = 1;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly db: pg.Client,
    private readonly r: Rng,
  ) {}

  /** Seed rows before the daemon starts (read by its snapshot). */
  async seed(rowsPerTable: number): Promise<number> {
    await this.db.query('BEGIN');
    for (let i = 0; i < rowsPerTable; i++) {
      for (const t of TABLES) {
        const op = this.insert(t)();
        await this.db.query(op.sql, op.params);
        op.apply();
      }
    }
    await this.db.query('COMMIT');
    // Seed rows reach Kafka as snapshot reads (op r), not as change events.
    for (const k of Object.keys(this.stats) as (keyof LoadStats)[]) this.stats[k] = 0;
    return rowsPerTable * TABLES.length;
  }

  start(txPerSec: number): void {
    this.running = true;
    const gapMs = 1000 / txPerSec;
    this.loop = (async () => {
      while (this.running) {
        const t0 = Date.now();
        await this.transaction();
        const wait = gapMs - (Date.now() - t0);
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async transaction(): Promise<void> {
    const n = this.r.int(1, 8);
    const applied: (() => void)[] = [];
    // Keys picked inside this transaction must not be picked again by a later op of it (deleted or renamed).
    const used = new Set<string>();
    try {
      await this.db.query('BEGIN');
      for (let i = 0; i < n; i++) {
        const op = this.pickOp(used)();
        await this.db.query(op.sql, op.params);
        applied.push(op.apply);
      }
      await this.db.query('COMMIT');
      for (const a of applied) a();
      this.stats.transactions++;
    } catch (err) {
      this.stats.errors++;
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw new Error(`load transaction failed: ${(err as Error).message}`);
    }
  }

  private pickOp(used: Set<string>): Op {
    const t = this.r.pick(TABLES);
    const existing = this.keys[t].filter((k) => !used.has(`${t}:${k}`));
    const x = this.r.next();
    if (existing.length < 20 || x < 0.3) return this.insert(t);
    const key = this.r.pick(existing);
    used.add(`${t}:${key}`);
    if (x < 0.75) return this.update(t, key);
    if (x < 0.83) return this.pkUpdate(t, key);
    return this.remove(t, key);
  }

  private insert(t: TableName): Op {
    const r = this.r;
    const id = this.nextId++;
    const key = t === 'items' ? `sku-${id}` : String(id);
    const add = (): void => {
      this.keys[t].push(key);
      this.touched[t].add(key);
      this.stats.inserts++;
      this.stats.expectedChangeEvents++;
    };
    if (t === 'accounts') return () => ({ sql: 'INSERT INTO accounts VALUES ($1, $2, $3, $4, $5)', params: [key, `acct ${id}`, money(r, 100000), r.chance(0.5), 0], apply: add });
    if (t === 'docs') return () => ({ sql: 'INSERT INTO docs VALUES ($1, $2, $3)', params: [key, `doc ${id}`, bigBody(r)], apply: add });
    return () => ({ sql: 'INSERT INTO items VALUES ($1, $2, $3, $4)', params: [key, `item ${id}`, r.int(0, 500), money(r, 1000)], apply: add });
  }

  private update(t: TableName, key: string): Op {
    const r = this.r;
    const done = (toastUnchanged = false) => (): void => {
      this.touched[t].add(key);
      this.stats.updates++;
      if (toastUnchanged) this.stats.toastUnchangedUpdates++;
      this.stats.expectedChangeEvents++;
    };
    if (t === 'accounts') return () => ({ sql: 'UPDATE accounts SET balance = $2, active = NOT active, visits = visits + 1 WHERE id = $1', params: [key, money(r, 100000)], apply: done() });
    if (t === 'docs') {
      if (r.chance(0.6)) return () => ({ sql: 'UPDATE docs SET title = $2 WHERE id = $1', params: [key, `doc ${key} v${r.int(1, 1e6)}`], apply: done(true) });
      return () => ({ sql: 'UPDATE docs SET title = $2, body = $3 WHERE id = $1', params: [key, `doc ${key} rewritten ${r.int(1, 1e6)}`, bigBody(r)], apply: done() });
    }
    return () => ({ sql: 'UPDATE items SET qty = $2, price = $3 WHERE sku = $1', params: [key, r.int(0, 500), money(r, 1000)], apply: done() });
  }

  private pkUpdate(t: TableName, key: string): Op {
    const id = this.nextId++;
    const next = t === 'items' ? `sku-${id}` : String(id);
    const col = t === 'items' ? 'sku' : 'id';
    return () => ({
      sql: `UPDATE ${t} SET ${col} = $2 WHERE ${col} = $1`,
      params: [key, next],
      apply: () => {
        this.keys[t] = this.keys[t].filter((k) => k !== key);
        this.keys[t].push(next);
        this.touched[t].add(key);
        this.touched[t].add(next);
        this.stats.pkUpdates++;
        this.stats.expectedChangeEvents += 2; // Debezium: a delete of the old key, a create of the new
      },
    });
  }

  private remove(t: TableName, key: string): Op {
    const col = t === 'items' ? 'sku' : 'id';
    return () => ({
      sql: `DELETE FROM ${t} WHERE ${col} = $1`,
      params: [key],
      apply: () => {
        this.keys[t] = this.keys[t].filter((k) => k !== key);
        this.touched[t].add(key);
        this.stats.deletes++;
        this.stats.expectedChangeEvents++;
      },
    });
  }

  /** Forget what was touched so far (called when the cache is filled). */
  resetTouched(): void {
    for (const t of TABLES) this.touched[t].clear();
  }
}
