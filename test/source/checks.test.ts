/** Preflight checks give clear errors: missing REPLICATION privilege, unknown table, disabled publication mode. */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, kafkaConfig, pgClient, pgConfig, uniq } from './helpers.js';

const id = uniq('src_chk');
const role = `${id}_role`;

afterAll(async () => {
  const c = await pgClient();
  await c.query(`DROP TABLE IF EXISTS public.${id}_nopk`);
  await c.query(`DROP ROLE IF EXISTS ${role}`);
  await c.end();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: id.replace(/_/g, '-') });
});

const base = (extra: Record<string, unknown>): Record<string, unknown> => ({
  ...pgConfig(),
  name: id,
  'topic.prefix': id.replace(/_/g, '-'),
  'slot.name': id,
  'publication.name': `${id}_pub`,
  'snapshot.mode': 'never',
  ...extra,
});

describe('preflight checks', () => {
  it('a user without REPLICATION is told how to grant it', async () => {
    const c = await pgClient();
    await c.query(`CREATE ROLE ${role} LOGIN`);
    await c.end();
    const s = new PostgresSource(base({ 'database.user': role }), kafkaConfig, silentLogger);
    await expect(s.start()).rejects.toThrow(/lacks the REPLICATION privilege\. Fix: ALTER ROLE "\w+" WITH REPLICATION/);
  });

  it('an include-list entry that matches no table is an error naming it', async () => {
    const s = new PostgresSource(base({ 'table.include.list': 'public\\.no_such_table_xyz', 'publication.autocreate.mode': 'filtered' }), kafkaConfig, silentLogger);
    await expect(s.start()).rejects.toThrow(/table\.include\.list entry "public\\\.no_such_table_xyz" matches no table/);
  });

  it('publication.autocreate.mode=disabled without the publication says how to create it', async () => {
    const s = new PostgresSource(base({ 'publication.autocreate.mode': 'disabled' }), kafkaConfig, silentLogger);
    await expect(s.start()).rejects.toThrow(/does not exist and publication\.autocreate\.mode=disabled/);
  });

  it('a table without primary key and without REPLICA IDENTITY FULL is warned about', async () => {
    const c = await pgClient();
    await c.query(`CREATE TABLE public.${id}_nopk (a int)`);
    await c.end();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const s = new PostgresSource(base({ 'table.include.list': `public\\.${id}_nopk`, 'publication.autocreate.mode': 'filtered' }), kafkaConfig, logger);
    await s.start();
    await s.stop();
    expect(lines.join('\n')).toMatch(/has no primary key and REPLICA IDENTITY DEFAULT: once it is in the publication, Postgres REJECTS its UPDATEs and DELETEs/);
  });
});
