/**
 * The shared sink conformance suite for the webhook sink: the sink POSTs to a real local HTTP
 * receiver (test/support/webhook-receiver.ts) that applies the events the way the webhook docs ask
 * receivers to (dedupe by event id, version by position, TOAST fill, truncate watermark); readState
 * is that receiver's applied state. Offsets go to the runtime's default store (Kafka group offsets,
 * real Kafka): the conformance topics are created when missing and the groups are unique per run.
 */
import { randomUUID } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { KafkaGroupOffsetStore, offsetsGroupOf } from '../../src/sinks/runtime/kafka-group-offsets.js';
import { WebhookSink, webhookSinkSpec } from '../../src/sinks/webhook/index.js';
import { topicFor } from '../support/records.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { CONFORMANCE, describeSinkConformance } from './conformance.js';

const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(',') });

/** Offsets can only be committed for partitions that exist: the suite uses partitions 0-3 and another topic. */
async function ensureTopics(admin: Admin): Promise<void> {
  const want = [
    { name: CONFORMANCE.topic, partitions: 4 },
    { name: topicFor('conf_other', CONFORMANCE.schema, CONFORMANCE.prefix), partitions: 1 },
  ];
  const have = new Set(await admin.listTopics());
  for (const t of want) {
    if (have.has(t.name)) continue;
    await admin.createTopics({ topics: [t.name], partitions: t.partitions, replicas: 1 }).catch((e: unknown) => {
      if (!/already exists/i.test(String((e as Error).message) + JSON.stringify((e as { errors?: unknown }).errors ?? ''))) throw e;
    });
  }
}

for (const concurrency of [1, 3]) {
  describeSinkConformance(
    `webhook (request.concurrency ${concurrency})`,
    async () => {
      const admin = new Admin({ clientId: 'webhook-conformance', bootstrapBrokers: [...endpoints().kafkaBrokers] });
      await ensureTopics(admin);
      const group = `webhook-conf-${randomUUID().slice(0, 8)}`;
      const receiver = new WebhookReceiver('a-test-secret-of-enough-length');
      await receiver.up();
      const own = { url: receiver.url, 'signature.secret': 'a-test-secret-of-enough-length', 'request.concurrency': concurrency, 'request.max.events': 2 };
      const config = webhookSinkSpec.parse(own);
      const make = (): WebhookSink => new WebhookSink(config, new KafkaGroupOffsetStore(kafkaConfig, group), silentLogger);
      const sink = make();
      await sink.open();
      return {
        sink,
        newSink: make,
        child: { type: 'webhook', config: { ...own, 'request.max.events': 50 }, pipeline: 'conf', sinkName: 'webhook', groupId: group, kafka: true },
        readState: (table: string) => Promise.resolve(receiver.state(`${CONFORMANCE.schema}.${table}`)),
        async reset() {
          receiver.reset();
          await admin.deleteGroups({ groups: [offsetsGroupOf(group)] }).catch(() => undefined);
        },
        async dispose() {
          // every request the suite made was signed with the configured secret
          if (receiver.requests.some((r) => r.signatureOk !== true)) throw new Error('a request without a valid signature');
          await admin.deleteGroups({ groups: [offsetsGroupOf(group)] }).catch(() => undefined);
          await admin.close();
          await receiver.close();
        },
      };
    },
    // The sink cannot know what the receiver holds: stale events are delivered (the receiver drops them).
    { countsStale: false },
  );
}
