/** Smoke: @clickhouse/client against the stack's ClickHouse — create table, insert, select. */
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';

const table = `smoke_ch_${randomUUID().slice(0, 8)}`;
const client = createClient({ url: endpoints().clickhouseUrl });

afterAll(async () => {
  await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await client.close();
});

describe('clickhouse (@clickhouse/client)', () => {
  it('creates a ReplacingMergeTree table, inserts rows and reads the latest version back', async () => {
    await client.command({
      query: `CREATE TABLE ${table} (id UInt64, name String, _version UInt64) ENGINE = ReplacingMergeTree(_version) ORDER BY id`,
    });
    await client.insert({
      table,
      values: [
        { id: 1, name: 'old', _version: 1 },
        { id: 1, name: 'new', _version: 2 },
        { id: 2, name: 'two', _version: 1 },
      ],
      format: 'JSONEachRow',
    });
    const rs = await client.query({ query: `SELECT id, name FROM ${table} FINAL ORDER BY id`, format: 'JSONEachRow' });
    const rows = await rs.json<{ id: string | number; name: string }>();
    expect(rows.map((r) => [Number(r.id), r.name])).toEqual([
      [1, 'new'],
      [2, 'two'],
    ]);
  });
});
