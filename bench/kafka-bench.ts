/**
 * Kafka helpers shared by the benchmarks: the kafkajs client every bench builds (benchKafka), and for
 * the Debezium comparisons (bench/vs-debezium.ts, bench/snapshot-vs-debezium.ts) topic creation with
 * LogAppendTime, end-offset sums, and a read_committed count of a whole topic.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, KafkaConfig } from 'kafkajs';
import { stackKafka } from '../scripts/stack/kafka-client.js';

/**
 * A kafkajs client on the stack's brokers (silent unless `logLevel` is given; extra settings
 * override), with the request-queue fix the daemon applies (src/kafka/kafkajs-request-queue.ts):
 * unpatched, every idle connection wakes up every ~1 ms (CPU the bench would measure as its own, on
 * a daemon that does not have that loop) and Node 24 prints a TimeoutNegativeWarning into the output.
 * (test/support/kafka.ts is the tests' counterpart; benches do not import from test/.)
 */
export function benchKafka(settings: Partial<KafkaConfig> = {}): Kafka {
  return stackKafka({ clientId: 'cdc-fanout-bench', ...settings });
}

/**
 * Creates `topic` with `partitions` partitions and `message.timestamp.type=LogAppendTime`, and waits
 * until every partition has a leader. The loaded broker sometimes answers the leader wait with
 * UNKNOWN_TOPIC_OR_PARTITION for a topic it just created: up to 10 attempts, 1 s apart.
 */
export async function createLogAppendTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }],
      });
    } catch (e) {
      if (attempt >= 10) throw new Error(`could not create topic ${topic}: ${e instanceof Error ? e.message : String(e)}`);
      await sleep(1000);
      continue;
    }
    const md = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
    if (md?.topics[0]?.partitions.length === partitions && md.topics[0].partitions.every((p) => p.leader >= 0)) return;
    if (attempt >= 10) throw new Error(`topic ${topic} has no leaders for its ${partitions} partitions after ${attempt} attempts`);
    await sleep(1000);
  }
}

/** Sum of the topic's high-water marks over all partitions. */
export async function topicEndOffsetSum(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
}

/**
 * Reads the whole topic with a read_committed consumer (group `groupId`): record count and
 * first/last LogAppendTime. Stops 2 s after reaching `expected` (to see any extra record) or after
 * 120 s without progress.
 */
export async function countTopic(kafka: Kafka, groupId: string, topic: string, expected: number): Promise<{ records: number; firstMs: number; lastMs: number }> {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxBytes: 64 << 20, maxBytesPerPartition: 16 << 20 });
  let records = 0;
  let firstMs = Infinity;
  let lastMs = -Infinity;
  let progressAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const ts = Number(m.timestamp);
          if (ts < firstMs) firstMs = ts;
          if (ts > lastMs) lastMs = ts;
        }
        records += batch.messages.length;
        progressAt = Date.now();
      },
    });
    let doneAt = 0;
    for (;;) {
      await sleep(200);
      if (records >= expected && doneAt === 0) doneAt = Date.now();
      if (doneAt && Date.now() - doneAt > 2000) break;
      if (Date.now() - progressAt > 120_000) break;
    }
  } finally {
    await consumer.disconnect();
  }
  return { records, firstMs, lastMs };
}

/** Deletes every topic whose name starts with `prefix` (best effort). */
export async function deleteTopicsWithPrefix(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
}

/** The slice of pg.Client that dropSlotWhenInactive needs. */
interface Queryable {
  query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[] }>;
}

/** Drops `slot` once no walsender holds it: polls every 250 ms, gives up silently after 80 polls (20 s). */
export async function dropSlotWhenInactive(db: Queryable, slot: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    const r = await db.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (r.rows.length === 0) break;
    if (r.rows[0]?.active_pid === null) {
      await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
      break;
    }
    await sleep(250);
  }
}
