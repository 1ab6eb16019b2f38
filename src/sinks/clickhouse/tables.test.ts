/**
 * DDL the sink issues per server version (unit test with a recording connection: the integration
 * tests run against 18.16 only, so this pins what a modern server receives).
 */
import { describe, expect, it } from 'vitest';
import { clickhouseSpec } from './config.js';
import type { Conn } from './conn.js';
import { featuresOf } from './server.js';
import { columnComment, columnInfos, TableManager } from './tables.js';
import type { SourceCatalog } from '../kit/catalog.js';

function recordingConn(): { conn: Conn; commands: string[] } {
  const commands: string[] = [];
  let created = false;
  const conn = {
    async command(q: string) {
      commands.push(q);
      if (q.startsWith('CREATE TABLE')) created = true;
    },
    async queryJson(q: string) {
      if (!created) return [];
      if (q.includes('system.tables')) return [{ sorting_key: 'id' }];
      return ['id', 'ts', 'amount', 'tags', '_deleted', '_version', '_seq', '_op', '_lsn', '_synced_at'].map((name) => ({ name, type: 'String', comment: '' }));
    },
  };
  return { conn: conn as unknown as Conn, commands };
}

const catalog: SourceCatalog = {
  async describe() {
    return {
      primaryKey: ['id'],
      columns: [
        { name: 'id', pgType: 'bigint', nullable: false },
        { name: 'ts', pgType: 'timestamp with time zone', nullable: true },
        { name: 'amount', pgType: 'numeric(10,2)', nullable: true },
        { name: 'tags', pgType: 'text[]', nullable: true },
        { name: 'qty', pgType: 'integer', nullable: true, attnum: 5, missingValue: '7' },
        { name: 'at', pgType: 'timestamp with time zone', nullable: true, attnum: 6, missingValue: '2020-01-01 00:00:00+00' },
      ],
    };
  },
  async close() {},
};

describe('table DDL per server version', () => {
  it('uses DateTime64, ReplacingMergeTree(_version, _deleted) and the dedup window on modern servers', async () => {
    const { conn, commands } = recordingConn();
    const tm = new TableManager(conn, clickhouseSpec.parse({ url: 'http://ch:8123', database: 'wh', mode: 'both' }), featuresOf('24.8.4.13'), catalog);
    await tm.get('public', 'orders', { key: { id: 1 }, row: { id: 1 } });
    const create = commands.find((c) => c.includes('`public_orders` ('));
    expect(create).toContain("`ts` Nullable(DateTime64(6, 'UTC')) COMMENT 'pg:timestamp with time zone'");
    expect(create).toContain('`amount` Nullable(Decimal(10, 2))');
    expect(create).toContain('`tags` Array(Nullable(String))');
    expect(create).toContain('ENGINE = ReplacingMergeTree(_version, _deleted) ORDER BY (`id`) SETTINGS non_replicated_deduplication_window = 1000');
    expect(commands).toContain('CREATE VIEW IF NOT EXISTS `wh`.`public_orders_current` AS SELECT * FROM `wh`.`public_orders` FINAL WHERE _deleted = 0');
    expect(commands.some((c) => c.includes('`public_orders_changelog`') && c.includes('ORDER BY (_lsn, _seq) SETTINGS non_replicated_deduplication_window = 1000'))).toBe(true);
  });

  it('falls back to String timestamps and plain ReplacingMergeTree(_version) on 18.16', async () => {
    const { conn, commands } = recordingConn();
    const tm = new TableManager(conn, clickhouseSpec.parse({ url: 'http://ch:8123', database: 'wh' }), featuresOf('18.16.1'), catalog);
    await tm.get('public', 'orders', { key: { id: 1 }, row: { id: 1 } });
    const create = commands.find((c) => c.includes('`public_orders` (')) ?? '';
    expect(create).toContain("`ts` Nullable(String) COMMENT 'pg:timestamp with time zone'");
    expect(create).toMatch(/ENGINE = ReplacingMergeTree\(_version\) ORDER BY \(`id`\)$/);
    expect(commands.some((c) => c.includes('changelog'))).toBe(false);
  });

  it('a constant source default (attmissingval) becomes the column DEFAULT for types ClickHouse parses alike, and the comment keeps the attnum', async () => {
    const { conn, commands } = recordingConn();
    const tm = new TableManager(conn, clickhouseSpec.parse({ url: 'http://ch:8123', database: 'wh' }), featuresOf('18.16.1'), catalog);
    await tm.get('public', 'orders', { key: { id: 1 }, row: { id: 1 } });
    const create = commands.find((c) => c.includes('`public_orders` (')) ?? '';
    expect(create).toContain("`qty` Nullable(Int32) DEFAULT CAST('7' AS Nullable(Int32)) COMMENT 'pg:integer;attnum=5'");
    expect(create).toContain("`at` Nullable(String) COMMENT 'pg:timestamp with time zone;attnum=6'");
  });
});

describe('column comments', () => {
  it('round-trip the source type, attnum and earlier names', () => {
    const comment = columnComment('character varying(10)', 3, ['a', 'odd;name']);
    expect(comment).toBe('pg:character varying(10);attnum=3;was=a,odd%3Bname');
    const [info] = columnInfos([{ name: 'b', type: 'Nullable(String)', comment }]);
    expect(info).toMatchObject({ name: 'b', attnum: 3, was: ['a', 'odd;name'], kind: 'other' });
    expect(columnInfos([{ name: 't', type: 'String', comment: 'pg:timestamp with time zone' }])[0]).toMatchObject({ kind: 'timestamptz', was: [] });
  });
});
