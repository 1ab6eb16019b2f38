/**
 * A snapshot read and a streamed insert of the same values give the same event values. The snapshot
 * once selected every column with `::text`, which is not the type's output function for every type:
 * boolean::text is 'true'/'false' (the converter expects pgoutput's 't'/'f', so every true became
 * false), inet::text adds the netmask, char(n)::text drops the padding. Found by `npm run verify`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_snapval');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
let source: PostgresSource | undefined;

afterAll(async () => {
  await source?.stop();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

const VALUES = `true, false, '10.0.0.1', '10.1.0.0/16', 'ab', 'x', '{t,f}', '1.50', '2024-03-01 10:00:00+02', '{"a": [1, true]}'`;

describe('snapshot values', () => {
  it('equal the streamed values of the same row', async () => {
    const c = await pgClient();
    try {
      await c.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, yes boolean, no boolean, host inet, net cidr, code char(4), ch "char", flags boolean[], amount numeric(6,2), at timestamptz, doc jsonb)`,
      );
      await c.query(`INSERT INTO ${table} VALUES (1, ${VALUES})`);
      source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'initial' }), kafkaConfig, silentLogger);
      await source.start();
      await waitFor(() => source!.status().state === 'streaming', 60_000, 'streaming');
      await c.query(`INSERT INTO ${table} VALUES (2, ${VALUES})`);
    } finally {
      await c.end();
    }
    const recs = await consume([`${prefix}.public.${id}`], (r) => r.filter((x) => x.json).length >= 2, 60_000);
    const rows = recs.filter((r) => r.json).map((r) => ({ op: r.json!.op, after: { ...(r.json!.after as Record<string, unknown>), id: undefined } }));
    const read = rows.find((r) => r.op === 'r');
    const created = rows.find((r) => r.op === 'c');
    expect(read?.after).toEqual(created?.after);
    expect(read?.after).toMatchObject({ yes: true, no: false, host: '10.0.0.1', code: 'ab  ', flags: [true, false] });
  });
});
