/**
 * Resets what the demo pipeline (topic prefix `shop`) left in Kafka and in the sinks, so every demo
 * (and the daemon benchmark) starts from the same empty state.
 */
import { ClickHouseLogLevel, createClient as createClickHouse } from '@clickhouse/client';
import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import type { Endpoints } from '../stack/endpoints.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec } from '../../src/kafka/config.js';

/** Deletes the pipeline's Kafka topics and groups and everything its sinks stored (indices, tables, keys, offsets). */
export async function resetSinks(ep: Endpoints, PREFIX: string): Promise<void> {
  const kafka = kafkaClient(kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(',') }), { clientIdSuffix: 'demo-reset' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${PREFIX}.`));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`cdc-fanout.${PREFIX}.`));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  const es = new Elasticsearch({ node: ep.elasticsearchUrl });
  await es.indices.delete({ index: `${PREFIX}.*`, ignore_unavailable: true, allow_no_indices: true });
  // Checkpoint docs of the demo's sinks (the embedded node has no delete-by-query: search + bulk delete).
  if (await es.indices.exists({ index: 'cdc-fanout-checkpoints' })) {
    await es.indices.refresh({ index: 'cdc-fanout-checkpoints' });
    const found = await es.search({ index: 'cdc-fanout-checkpoints', size: 10_000, _source: false, query: { match_all: {} } });
    const ids = found.hits.hits.map((h) => h._id).filter((id): id is string => typeof id === 'string' && id.includes(`cdc-fanout.${PREFIX}.`));
    if (ids.length) await es.bulk({ refresh: true, operations: ids.map((id) => ({ delete: { _index: 'cdc-fanout-checkpoints', _id: id } })) });
  }
  await es.close();
  const ch = createClickHouse({ url: ep.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  await ch.command({ query: `DROP DATABASE IF EXISTS ${PREFIX}` });
  await ch.close();
  const redis = new Redis(ep.redisUrl);
  for (const pattern of ['customer:*', 'product:*', 'order:*', 'cdc:ver:*', `cdc:ver@cdc-fanout.${PREFIX}.*`, `cdc:offsets:cdc-fanout.${PREFIX}.*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  redis.disconnect();
}
