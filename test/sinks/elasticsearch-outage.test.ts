/**
 * Elasticsearch unreachable for 30 s under load, through the real runtime. The shared ES of the
 * stack cannot be stopped (other suites use it) and a second ES node is too heavy for this 2-core
 * machine, so the sink talks to ES through a TCP relay in this process and the outage cuts the
 * relay: every connection is dropped and new ones are refused for 30 s — to the client exactly what
 * a stopped server looks like. (A process crash of ES itself is not simulated; ES acknowledges a
 * bulk only after the translog fsync, so an acknowledged write survives it.)
 * Expected: retries with backoff, nothing skipped, lag grows during the outage and is caught up
 * afterwards; the index equals the model of the table (content and _version = commit LSN).
 */
import { randomUUID } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { silentLogger } from '../../src/observability/logger.js';
import { plugin } from '../../src/sinks/elasticsearch/index.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { debeziumMessage, pos } from '../support/records.js';
import { createTopic, highWatermarks, kafka, sendTx, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const topic = `esout-${run}`;
const PARTITIONS = 3;
const TABLE = 'outage_items';
const index = `esout-${run}.${TABLE}`;
const checkpointIndex = `cdc-fanout-checkpoints-esout-${run}`;
const esUrl = new URL(endpoints().elasticsearchUrl);
const es = new Client({ node: esUrl.toString() });
let admin: Admin;
let producer: Producer;

/** TCP relay to the real ES that can be cut (drop + refuse) and restored on the same port. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(esUrl.port || 9200), esUrl.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

const relay = new Relay();

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, PARTITIONS);
  producer = await txProducer();
  await relay.up();
});

afterAll(async () => {
  await relay.down();
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await es.indices.delete({ index: [index, checkpointIndex], ignore_unavailable: true });
  await es.close();
});

describe('Elasticsearch outage under load', () => {
  it('retries through a 30 s outage, loses nothing and catches up', async () => {
    const model = new Map<number, bigint>();
    let lsn = 1_000n;
    const produce = async (n: number): Promise<void> => {
      const messages = Array.from({ length: n }, () => {
        lsn += 1n;
        const id = Math.floor(Math.random() * 3000);
        const op = model.has(id) ? ('u' as const) : ('c' as const);
        model.set(id, lsn);
        return { partition: id % PARTITIONS, message: debeziumMessage({ table: TABLE, prefix: 'esout', op, after: { id, at: lsn.toString() }, position: pos(lsn) }) };
      });
      await sendTx(producer, topic, messages);
    };

    const config = resolveSinkConfig(
      sinkCommonSpec.parse({ name: 'outage', type: 'elasticsearch', topics: [topic], 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 100, 'errors.retry.max.backoff.ms': 2000 }),
      { pipeline: `esout-${run}`, topicPrefix: 'esout' },
    );
    const sink = plugin.create(
      plugin.spec.parse({ url: `http://127.0.0.1:${relay.port}`, 'index.name.template': `esout-${run}.{table}`, 'checkpoint.index': checkpointIndex, 'request.timeout.ms': 5000 }),
      { pipeline: `esout-${run}`, sinkName: 'outage', topicPrefix: 'esout', groupId: config.groupId, logger: silentLogger },
    );
    const runner = new SinkRunner({ kafka, sink, config, pipeline: `esout-${run}`, logger: silentLogger, sessionTimeoutMs: 10_000 });
    const retries: string[] = [];
    runner.on('state', (s: { name: string; reason?: string }) => {
      if (s.reason) retries.push(s.reason);
    });
    await runner.start();

    const applied = (): bigint => runner.offsets().reduce((a, o) => a + BigInt(o.offset), 0n);
    const rate = 500; // changes per second, 100 per Kafka transaction
    const started = Date.now();
    const at = (s: number): number => started + s * 1000;
    let outageApplied: [bigint, bigint] = [0n, 0n];
    let cut = false;
    let restored = false;
    while (Date.now() < at(50)) {
      await produce(rate / 10);
      await new Promise((r) => setTimeout(r, 200));
      if (!cut && Date.now() >= at(10)) {
        await relay.down();
        cut = true;
        await new Promise((r) => setTimeout(r, 3000)); // let in-flight batches fail
        outageApplied = [applied(), 0n];
      }
      if (cut && !restored && Date.now() >= at(40)) {
        outageApplied = [outageApplied[0], applied()];
        await relay.up();
        restored = true;
      }
    }
    const high = await highWatermarks(admin, topic);
    await waitFor(
      'the sink to catch up after the outage',
      () => [...high].every(([p, h]) => runner.offsets().some((o) => o.partition === p && BigInt(o.offset) >= BigInt(h) - 1n)),
      120_000,
      200,
    );
    await runner.stop();

    // nothing was applied while ES was unreachable, and the runner kept retrying
    expect(outageApplied[1]).toBe(outageApplied[0]);
    expect(retries.some((r) => /cannot reach|ECONNREFUSED|socket|ECONNRESET|closed/i.test(r))).toBe(true);

    await es.indices.refresh({ index });
    const hits = (await es.search<{ id: number; at: string }>({ index, size: 10_000, version: true, query: { match_all: {} } })).hits.hits;
    const wrong: string[] = [];
    for (const [id, v] of model) {
      const hit = hits.find((h) => h._id === String(id));
      if (!hit || hit._source?.at !== v.toString() || BigInt(hit._version ?? -1) !== v) wrong.push(`${id}: ${JSON.stringify(hit?._source)} v${hit?._version} vs ${v}`);
    }
    expect(hits.length).toBe(model.size);
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 300_000);
});
