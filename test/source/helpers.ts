/** Shared helpers for the source integration tests (real Postgres + real Kafka). */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec, type KafkaConfig } from '../../src/kafka/config.js';
import { testKafka } from '../support/kafka.js';

export const ep = endpoints();
export const kafka = testKafka({ clientId: 'source-tests' });
export const kafkaConfig: KafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': 3 });

export function uniq(prefix: string): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

export function pgConfig(): Record<string, unknown> {
  const u = new URL(ep.postgresUrl);
  return {
    'database.hostname': u.hostname,
    'database.port': Number(u.port || 5432),
    'database.user': decodeURIComponent(u.username || 'postgres'),
    'database.dbname': u.pathname.slice(1) || 'postgres',
    ...(u.password ? { 'database.password': decodeURIComponent(u.password) } : {}),
  };
}

/**
 * Source config for a test pipeline capturing the one table `public.<id>`: connector, slot and
 * publication named `id`, topics prefixed with `id` (dashes for underscores). `extra` adds or overrides.
 */
export function oneTableSource(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...pgConfig(),
    name: id,
    'topic.prefix': id.replace(/_/g, '-'),
    'slot.name': id,
    'publication.name': `${id}_pub`,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': `public\\.${id}`,
    ...extra,
  };
}

export async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: ep.postgresUrl });
  await c.connect();
  return c;
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
  /** Parsed envelope (null for tombstones). */
  readonly json: Record<string, unknown> | null;
}

/**
 * Reads topics (read_committed, fresh group, from the beginning) until `until(records)` holds or
 * the timeout passes; returns what was read.
 */
export async function consume(topics: readonly string[], until: (recs: readonly ConsumedRecord[]) => boolean, timeoutMs = 60000): Promise<ConsumedRecord[]> {
  const consumer = kafka.consumer({ groupId: uniq('source-test'), readUncommitted: false, maxWaitTimeInMs: 200 });
  const out: ConsumedRecord[] = [];
  const admin = kafka.admin();
  await admin.connect();
  await waitFor(async () => {
    const have = new Set(await admin.listTopics());
    return topics.every((t) => have.has(t));
  }, timeoutMs, `topics ${topics.join(', ')}`).finally(() => admin.disconnect());
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    let resolve: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolve = r));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        const value = message.value ? message.value.toString() : null;
        out.push({ topic, partition, offset: message.offset, key: message.key ? message.key.toString() : null, value, headers, json: value ? (JSON.parse(value) as Record<string, unknown>) : null });
        if (until(out)) resolve();
      },
    });
    if (until(out)) resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Drops the slot (once inactive: waits up to `slotWaitTries` × 250 ms for its walsender to go), the
 * publication and the topics with the given prefix.
 */
export async function cleanup(opts: { slot?: string; slotWaitTries?: number; publication?: string; topicPrefix?: string; tables?: readonly string[] }): Promise<void> {
  const c = await pgClient();
  try {
    if (opts.slot) {
      for (let i = 0; i < (opts.slotWaitTries ?? 20); i++) {
        const r = await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [opts.slot]);
        if (r.rows.length === 0) break;
        if (r.rows[0].active_pid) {
          await new Promise((res) => setTimeout(res, 250));
          continue;
        }
        await c.query('SELECT pg_drop_replication_slot($1)', [opts.slot]).catch(() => undefined);
        break;
      }
    }
    if (opts.publication) await c.query(`DROP PUBLICATION IF EXISTS "${opts.publication}"`);
    for (const t of opts.tables ?? []) await c.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
  } finally {
    await c.end();
  }
  if (opts.topicPrefix) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${opts.topicPrefix}.`));
      if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 30000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
