// The ClickHouse sink's source catalog with database.hosts: the daemon passes every server (libpq
// multi-host URL) and the catalog reads from the first that answers — after a failover the first
// listed server may be down for good (it read only that one, and the sink could not create tables).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { sourceDatabaseUrl } from '../../src/source/source-url.js';
import { catalogUrls, postgresCatalog } from '../../src/sinks/kit/catalog.js';
import { parseSourceConfig } from '../../src/source/config.js';
import { freePort } from '../support/ports.js';

const ep = endpoints();
const table = `cath_${Date.now().toString(36)}`;
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${table} (id int PRIMARY KEY, v numeric(10,2))`);
});

afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS public.${table}`);
  await db.end();
});

describe('postgresCatalog with several servers', () => {
  it('database.hosts: the daemon passes every server; the catalog reads from the first that answers', async () => {
    const src = parseSourceConfig({ name: 'p', 'topic.prefix': 'p', 'database.hosts': 'pg-a:5433,[::1],pg-c', 'database.port': 5432, 'database.user': 'u s', 'database.password': 'p@ss', 'database.dbname': 'db' });
    const url = sourceDatabaseUrl(src);
    expect(url).toBe('postgres://u%20s:p%40ss@pg-a:5433,[::1]:5432,pg-c:5432/db');
    expect(catalogUrls(url)).toEqual(['postgres://u%20s:p%40ss@pg-a:5433/db', 'postgres://u%20s:p%40ss@[::1]:5432/db', 'postgres://u%20s:p%40ss@pg-c:5432/db']);
    expect(catalogUrls(ep.postgresUrl)).toEqual([ep.postgresUrl]);

    // A dead first server (nothing listens on that port), then the shared Postgres.
    const live = new URL(ep.postgresUrl);
    const dead = `127.0.0.1:${await freePort()}`;
    const multi = ep.postgresUrl.replace(`@${live.host}`, `@${dead},${live.host}`);
    expect(catalogUrls(multi)).toHaveLength(2);
    const catalog = postgresCatalog(multi);
    try {
      expect((await catalog.describe('public', table))?.primaryKey).toEqual(['id']);
      expect(await catalog.describe('public', `${table}_missing`)).toBeNull();
    } finally {
      await catalog.close();
    }
    // Every server down: the error names each.
    const none = postgresCatalog(ep.postgresUrl.replace(`@${live.host}`, `@${dead},127.0.0.1:${await freePort()}`));
    try {
      await expect(none.describe('public', table)).rejects.toThrow(new RegExp(`cannot read the source catalog .* from any Postgres server of the source: ${dead.replace(/\./g, '\\.')}: .*; 127\\.0\\.0\\.1:\\d+: `));
    } finally {
      await none.close();
    }
  });
});
