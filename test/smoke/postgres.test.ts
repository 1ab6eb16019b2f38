/** Smoke: pg against the stack's Postgres — a query, and the logical-replication settings the CDC source needs. */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';

const client = new pg.Client({ connectionString: endpoints().postgresUrl });

afterAll(async () => {
  await client.end();
});

describe('postgres (pg)', () => {
  it('answers a parameterised query', async () => {
    await client.connect();
    const res = await client.query<{ sum: number }>('SELECT $1::int + $2::int AS sum', [40, 2]);
    expect(res.rows[0]?.sum).toBe(42);
  });

  it('runs with wal_level=logical and room for replication slots', async () => {
    const res = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders') ORDER BY name",
    );
    const s = Object.fromEntries(res.rows.map((r) => [r.name, r.setting]));
    expect(s.wal_level).toBe('logical');
    expect(Number(s.max_replication_slots)).toBeGreaterThanOrEqual(16);
    expect(Number(s.max_wal_senders)).toBeGreaterThanOrEqual(16);
  });
});
