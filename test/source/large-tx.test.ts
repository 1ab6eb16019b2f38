/**
 * A 200k-row Postgres transaction streams through an open Kafka transaction in chunks (bounded
 * memory) and is committed at the PG commit: all events present, once; RSS growth is reported.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, kafka, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_large');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const ROWS = 200_000;
let source: PostgresSource | undefined;

afterAll(async () => {
  await source?.stop();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe('large transaction', () => {
  it(`${ROWS} rows in one transaction: all events, one Kafka commit at the end, bounded memory`, async () => {
    const c = await pgClient();
    await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
    source = new PostgresSource(
      oneTableSource(id, {
        'snapshot.mode': 'never',
        'max.batch.size': 5000,
        'max.queue.size': 20000,
      }),
      kafkaConfig,
      silentLogger,
    );
    const commits: number[] = [];
    source.onCommitted((b) => commits.push(b.events));
    await source.start();
    await waitFor(() => source!.status().state === 'streaming', 30000, 'streaming');
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
    await c.end();
    await waitFor(() => source!.status().eventsPublished >= ROWS, 600_000, 'all events committed');
    clearInterval(timer);
    console.log(JSON.stringify({ rows: ROWS, rssStartMB: Math.round(rss0 / 2 ** 20), rssPeakMB: Math.round(peak / 2 ** 20), kafkaCommits: commits }));
    // one PG transaction → exactly one Kafka commit holding all of it
    expect(commits).toEqual([ROWS]);
    // every row once: the committed offsets (read_committed) of the topic's partitions sum to ROWS
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    // high watermarks include one commit marker per partition written
    const total = offsets.reduce((s, p) => s + Number(p.high), 0);
    expect(total - offsets.filter((p) => Number(p.high) > 0).length).toBe(ROWS);
    expect(peak - rss0).toBeLessThan(300 * 2 ** 20);
  }, 900_000);
});
