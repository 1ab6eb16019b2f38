/**
 * The shared sink conformance suite against real ClickHouse — the stack's server (18.16) and a
 * current engine (chdb 26.x behind test/support/chdb-front.ts; see clickhouse-targets.ts) — once
 * per target and truncate mode that removes rows, each in a database of its own that is dropped at
 * the end. Tables are created by inference (no source catalog).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { afterAll } from 'vitest';
import type { Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { clickhouseTargets, stopTargets, type ClickHouseTarget } from '../support/clickhouse-targets.js';
import { describeSinkConformance, CONFORMANCE } from './conformance.js';

const targets = await clickhouseTargets();
afterAll(() => stopTargets(targets));
const META = new Set(['_deleted', '_version', '_seq', '_op', '_lsn', '_synced_at']);

/** The suite once per truncate mode that removes rows (`delete`) or hides them (`mark-deleted`), each in its own database. */
function conformance(target: ClickHouseTarget, mode: 'delete' | 'mark-deleted'): void {
  const url = target.url;
  describeSinkConformance(`clickhouse ${target.name} (truncate.mode ${mode})`, async () => {
    const database = `cdc_conf_${randomUUID().slice(0, 8)}`;
    const own = { url, database, 'truncate.mode': mode, 'checkpoint.group': 'conformance' };
    const config = clickhouseSpec.parse(own);
    const admin = createClient({ url, log: { level: 127 } });
    const made: ClickHouseSink[] = [];
    const make = (): ClickHouseSink => {
      const s = new ClickHouseSink({ config, group: 'conformance', logger: silentLogger });
      made.push(s);
      return s;
    };
    const sink = make();
    await sink.open();
    return {
      sink,
      newSink: make,
      child: { type: 'clickhouse', config: own, pipeline: 'conf', sinkName: 'clickhouse' },
      async readState(table: string) {
        const name = `${CONFORMANCE.schema}_${table}`;
        const out = new Map<string, Row | null>();
        const exists = await admin.query({ query: `EXISTS TABLE ${database}.${name}`, format: 'TabSeparated' });
        if ((await exists.text()).trim() !== '1') return out;
        const rs = await admin.query({ query: `SELECT * FROM ${database}.${name} FINAL`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
        for (const r of await rs.json<Row>()) {
          const row: Row = {};
          for (const [k, v] of Object.entries(r)) if (!META.has(k)) row[k] = v;
          out.set(JSON.stringify({ id: row.id }), r._deleted === 1 ? null : row);
        }
        return out;
      },
      async reset() {
        const rs = await admin.query({ query: `SELECT name FROM system.tables WHERE database = '${database}' AND engine LIKE '%MergeTree'`, format: 'JSONEachRow' });
        for (const t of await rs.json<{ name: string }>()) await admin.command({ query: `TRUNCATE TABLE ${database}.${t.name}` });
        // rows were removed behind the sinks' backs: drop their remembered versions
        for (const s of made) s.invalidateCaches();
      },
      async dispose() {
        await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
        await admin.close();
      },
    };
  });
}

for (const target of targets) {
  conformance(target, 'delete');
  conformance(target, 'mark-deleted');
}
