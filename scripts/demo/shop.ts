/**
 * The demo's Postgres side: (re)create the `shop` database from migrations/, seed it, and run a
 * write workload that exercises every kind of change the pipeline must carry: inserts, updates,
 * deletes (with cascades), a primary-key update, a schema change and multi-row transactions.
 * The workload records every cache key it touches so the reconciliation can check invalidation.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const DEMO_DB = 'shop';
export const DEMO_SLOT = 'cdc_fanout_shop';

const firstNames = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances', 'Edsger', 'Radia'];
const lastNames = ['Lovelace', 'Hopper', 'Torvalds', 'Liskov', 'Thompson', 'Hamilton', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman'];
const words = ['durable', 'wool', 'kettle', 'carbon', 'lamp', 'oak', 'ceramic', 'travel', 'linen', 'copper', 'garden', 'desk', 'quiet', 'bright', 'compact'];

/** A small deterministic PRNG so demo runs are repeatable. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** A description long and varied enough to be stored out of line (TOAST). */
function description(r: () => number): string {
  const parts: string[] = [];
  for (let i = 0; i < 500; i++) parts.push(pick(r, words) + Math.floor(r() * 1e6).toString(36));
  return parts.join(' ');
}

export function adminUrl(pgUrl: string): string {
  const u = new URL(pgUrl);
  u.pathname = '/postgres';
  return u.toString();
}

export function demoUrl(pgUrl: string): string {
  const u = new URL(pgUrl);
  u.pathname = `/${DEMO_DB}`;
  return u.toString();
}

/** Drops the demo slot and database, recreates the database and applies migrations/*.sql in order. */
export async function resetDatabase(pgUrl: string, migrationsDir: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl(pgUrl) });
  await admin.connect();
  try {
    const slot = await admin.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [DEMO_SLOT]);
    const pid = slot.rows[0]?.active_pid;
    if (pid) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    if (slot.rows.length > 0) {
      // The walsender may need a moment to exit after termination.
      for (let i = 0; ; i++) {
        try {
          await admin.query('SELECT pg_drop_replication_slot($1)', [DEMO_SLOT]);
          break;
        } catch (err) {
          if (i > 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    await admin.query(`DROP DATABASE IF EXISTS ${DEMO_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DEMO_DB}`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ connectionString: demoUrl(pgUrl) });
  await db.connect();
  try {
    for (const file of readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) {
      await db.query(readFileSync(join(migrationsDir, file), 'utf8'));
    }
  } finally {
    await db.end();
  }
}

export interface SeedSize {
  readonly customers: number;
  readonly products: number;
  readonly orders: number;
}

export async function seed(db: pg.Client, size: SeedSize, seedValue = 42): Promise<void> {
  const r = rng(seedValue);
  await db.query('BEGIN');
  for (let i = 0; i < size.customers; i++) {
    const first = pick(r, firstNames);
    const last = pick(r, lastNames);
    await db.query('INSERT INTO customers (email, full_name, tags, created_at) VALUES ($1, $2, $3, $4)', [
      `${first}.${last}.${i}@example.com`.toLowerCase(),
      `${first} ${last}`,
      r() < 0.3 ? ['vip', pick(r, words)] : [pick(r, words)],
      new Date(Date.UTC(2024, 0, 1) + Math.floor(r() * 3e10)).toISOString(),
    ]);
  }
  for (let i = 0; i < size.products; i++) {
    await db.query('INSERT INTO products (sku, name, description, price, attributes) VALUES ($1, $2, $3, $4, $5)', [
      `SKU-${String(i).padStart(5, '0')}`,
      `${pick(r, words)} ${pick(r, words)} ${pick(r, words)}`,
      description(r),
      (1 + Math.floor(r() * 50000) / 100).toFixed(2),
      JSON.stringify({ color: pick(r, ['red', 'green', 'blue']), weight_g: Math.floor(r() * 2000) }),
    ]);
  }
  await db.query('COMMIT');
  for (let i = 0; i < size.orders; i++) await placeOrder(db, r, size.customers, size.products);
}

async function placeOrder(db: pg.Client, r: () => number, customers: number, products: number): Promise<number> {
  await db.query('BEGIN');
  const customer = await db.query<{ id: string }>('SELECT id FROM customers ORDER BY id OFFSET $1 LIMIT 1', [Math.floor(r() * customers)]);
  const customerId = customer.rows[0]?.id;
  if (!customerId) {
    await db.query('ROLLBACK');
    return 0;
  }
  const order = await db.query<{ id: string }>('INSERT INTO orders (customer_id, note) VALUES ($1, $2) RETURNING id', [customerId, r() < 0.2 ? 'gift wrap please' : null]);
  const orderId = Number(order.rows[0]?.id);
  const lines = 1 + Math.floor(r() * 4);
  for (let line = 1; line <= lines; line++) {
    await db.query(
      `INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price)
       SELECT $1, $2, sku, $3, price FROM products ORDER BY sku OFFSET $4 LIMIT 1`,
      [orderId, line, 1 + Math.floor(r() * 3), Math.floor(r() * products)],
    );
  }
  await db.query('UPDATE orders SET total = (SELECT coalesce(sum(quantity * unit_price), 0) FROM order_items WHERE order_id = $1) WHERE id = $1', [orderId]);
  await db.query('COMMIT');
  return orderId;
}

/** What the workload did, for the reconciliation and the report. */
export interface WorkloadStats {
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
  pkUpdates: number;
  schemaChanges: number;
  /** Cache keys whose rows changed (from before and after images) — must be gone from Redis. */
  readonly touchedKeys: Set<string>;
}

export function newStats(): WorkloadStats {
  return { transactions: 0, inserts: 0, updates: 0, deletes: 0, pkUpdates: 0, schemaChanges: 0, touchedKeys: new Set() };
}

interface CustomerRow { id: string; email: string }

/**
 * One step of the workload: a random business transaction. The schema change and the PK update
 * happen once, at fixed points of the run (`step` counts calls).
 */
export async function workloadStep(db: pg.Client, r: () => number, step: number, stats: WorkloadStats, size: SeedSize): Promise<void> {
  const t = r();
  if (step === 50) {
    await db.query('ALTER TABLE customers ADD COLUMN IF NOT EXISTS loyalty_points int');
    stats.schemaChanges++;
  } else if (step === 80) {
    // Primary-key update: the SKU is renamed; order_items follow through ON UPDATE CASCADE.
    const res = await db.query<{ sku: string }>("UPDATE products SET sku = sku || '-R' WHERE sku = (SELECT sku FROM products WHERE sku NOT LIKE '%-R' ORDER BY sku LIMIT 1) RETURNING sku");
    if (res.rowCount) stats.pkUpdates++;
  } else if (t < 0.3) {
    await placeOrder(db, r, size.customers, size.products);
    stats.inserts++;
  } else if (t < 0.5) {
    const email = `new.${step}.${Math.floor(r() * 1e9)}@example.com`;
    const res = await db.query<CustomerRow>('INSERT INTO customers (email, full_name) VALUES ($1, $2) RETURNING id, email', [email, `Newcomer ${step}`]);
    const row = res.rows[0];
    if (row) touchCustomer(stats, row);
    stats.inserts++;
  } else if (t < 0.7) {
    // Email change: the cache keys of both the old and the new email must go.
    const old = await db.query<CustomerRow>('SELECT id, email FROM customers ORDER BY random() LIMIT 1');
    const before = old.rows[0];
    if (before) {
      const res = await db.query<CustomerRow>("UPDATE customers SET email = 'changed.' || $2 || '.' || email, full_name = full_name || ' Jr' WHERE id = $1 RETURNING id, email", [before.id, step]);
      touchCustomer(stats, before);
      const after = res.rows[0];
      if (after) touchCustomer(stats, after);
      if (step > 50) await db.query('UPDATE customers SET loyalty_points = coalesce(loyalty_points, 0) + 10 WHERE id = $1', [before.id]);
      stats.updates++;
    }
  } else if (t < 0.85) {
    const res = await db.query<{ id: string; customer_id: string }>(
      "UPDATE orders SET status = (CASE status WHEN 'pending' THEN 'paid' WHEN 'paid' THEN 'shipped' ELSE status END) WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1) RETURNING id, customer_id",
    );
    for (const o of res.rows) touchOrder(stats, o);
    stats.updates++;
  } else if (t < 0.93) {
    // Price change: products are cached write-through, so the cache must hold the new row.
    await db.query("UPDATE products SET price = price + 1.25, updated_at = now() WHERE sku = (SELECT sku FROM products ORDER BY random() LIMIT 1)");
    stats.updates++;
  } else {
    const res = await db.query<{ id: string; customer_id: string }>('DELETE FROM orders WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1) RETURNING id, customer_id');
    for (const o of res.rows) touchOrder(stats, o);
    stats.deletes++;
  }
  stats.transactions++;
}

function touchCustomer(stats: WorkloadStats, row: CustomerRow): void {
  stats.touchedKeys.add(`customer:${row.id}`);
  stats.touchedKeys.add(`customer:email:${row.email}`);
}

function touchOrder(stats: WorkloadStats, row: { id: string; customer_id: string }): void {
  stats.touchedKeys.add(`order:${row.id}`);
  stats.touchedKeys.add(`customer:${row.customer_id}:orders`);
}
