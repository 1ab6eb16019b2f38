/** The HTTP webhook sink plugin (registered as type "webhook"). */
import { groupIdOf, type SinkPlugin } from '../plugin.js';
import { KafkaGroupOffsetStore } from '../runtime/kafka-group-offsets.js';
import { WebhookSink } from './sink.js';
import { webhookSinkSpec } from './spec.js';

export { WebhookSink, WebhookRejectedError, eventOf, type WebhookEvent } from './sink.js';
export { webhookSinkSpec, type WebhookSinkConfig } from './spec.js';
export { signBody, verifySignature } from './signature.js';

export const plugin: SinkPlugin<typeof webhookSinkSpec> = {
  type: 'webhook',
  description: 'POSTs batches of change events as signed JSON to an HTTP endpoint, in order per key, with an idempotency key per event; at-least-once via Kafka group offsets committed after each acknowledged batch.',
  spec: webhookSinkSpec,
  create(config, ctx) {
    if (!ctx.kafka) throw new Error(`sink "${ctx.sinkName}" (webhook) keeps its offsets in Kafka, but no Kafka settings were handed to it`);
    return new WebhookSink(config, new KafkaGroupOffsetStore(ctx.kafka, groupIdOf(ctx)), ctx.logger.child({ sink: ctx.sinkName, type: 'webhook' }));
  },
};
