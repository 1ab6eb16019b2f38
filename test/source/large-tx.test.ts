/**
 * A 200k-row Postgres transaction streams through an open Kafka transaction in chunks (bounded
 * memory) and is committed at the PG commit: all events present, once. The memory bound is on the
 * live heap (sampled after a full GC): a source that buffered the transaction would hold all 200k
 * events at once (well over 100 MB). RSS growth is reported but not asserted: it follows V8's heap
 * sizing for this 24 GiB host and the garbage rate, not what the source holds.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
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
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const rss0 = process.memoryUsage().rss;
    const live0 = process.memoryUsage().heapUsed;
    let peak = rss0;
    let livePeak = live0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const liveTimer = setInterval(() => {
      gc();
      livePeak = Math.max(livePeak, process.memoryUsage().heapUsed);
    }, 250);
    await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
    await c.end();
    await waitFor(() => source!.status().eventsPublished >= ROWS, 600_000, 'all events committed');
    clearInterval(timer);
    clearInterval(liveTimer);
    const mb = (n: number): number => Math.round(n / 2 ** 20);
    console.log(JSON.stringify({ rows: ROWS, rssStartMB: mb(rss0), rssPeakMB: mb(peak), liveHeapStartMB: mb(live0), liveHeapPeakMB: mb(livePeak), kafkaCommits: commits }));
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
    // max.queue.size (20k events here) plus the open Kafka step bound what is live; 200k events are not
    expect(livePeak - live0).toBeLessThan(60 * 2 ** 20);
  }, 900_000);
});
