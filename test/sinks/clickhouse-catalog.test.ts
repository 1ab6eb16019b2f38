import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { postgresCatalog } from '../../src/sinks/kit/catalog.js';

// The source catalog (source.url) keeps an idle connection between lookups. Postgres closing it
// (restart, failover, pg_terminate_backend) must not crash the process — an unheard pool 'error'
// event is an uncaught exception, which vitest reports as an error of this file — and the next
// lookup must connect anew.
describe('clickhouse source catalog', () => {
  const admin = new pg.Client({ connectionString: endpoints().postgresUrl });
  afterAll(() => admin.end());

  it('survives the server closing its idle connection and connects anew for the next lookup', async () => {
    await admin.connect();
    const app = `ch_catalog_${randomBytes(4).toString('hex')}`;
    const url = new URL(endpoints().postgresUrl);
    url.searchParams.set('application_name', app);
    const table = `ch_catalog_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE TABLE public.${table} (id int PRIMARY KEY, v text)`);
    const catalog = postgresCatalog(url.toString());
    try {
      expect((await catalog.describe('public', table))?.primaryKey).toEqual(['id']);
      const killed = await admin.query<{ n: string }>('SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE application_name = $1', [app]);
      expect(killed.rows[0]?.n).toBe('1');
      // wait until the backend is gone (the client has received the termination by then or will on its next read)
      for (let left = '1'; left !== '0'; ) {
        left = (await admin.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]?.n ?? '0';
      }
      await new Promise((r) => setTimeout(r, 100));
      expect((await catalog.describe('public', table))?.columns.map((c) => c.name)).toEqual(['id', 'v']);
    } finally {
      await catalog.close();
      await admin.query(`DROP TABLE IF EXISTS public.${table}`);
    }
  });
});
