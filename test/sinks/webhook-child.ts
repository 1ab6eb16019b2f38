/**
 * Child process for the webhook kill -9 test: one SinkRunner with the webhook sink (built through
 * its registered plugin, offsets in the Kafka group store) POSTing to the parent's receiver, until
 * killed. Env: CHILD_TOPIC, CHILD_GROUP, CHILD_URL, CHILD_SECRET.
 */
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadSinkPlugin } from '../../src/sinks/registry.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(','), 'client.id': 'webhook-child' });
const kafka = kafkaClient(kafkaConfig);
const plugin = await loadSinkPlugin('webhook');
const groupId = env('CHILD_GROUP');
const sink = plugin.create(
  plugin.spec.parse({ url: env('CHILD_URL'), 'signature.secret': env('CHILD_SECRET'), 'request.concurrency': 3, 'request.max.events': 8, 'retry.initial.backoff.ms': 20, 'retry.max.backoff.ms': 200 }),
  { pipeline: 'whcrash', sinkName: 'crash', topicPrefix: 'whcrash', groupId, logger: silentLogger, kafka: kafkaConfig },
);
const config = resolveSinkConfig(
  sinkCommonSpec.parse({ name: 'crash', type: 'webhook', topics: [env('CHILD_TOPIC')], 'group.id': groupId, 'batch.max.records': 25, 'batch.max.wait.ms': 20 }),
  { pipeline: 'whcrash', topicPrefix: 'whcrash' },
);
const runner = new SinkRunner({ kafka, sink, config, pipeline: 'whcrash', logger: silentLogger, sessionTimeoutMs: 6_000 });
runner.on('failed', (e: Error) => {
  process.stderr.write(`FAILED ${e.message}\n`);
  process.exit(2);
});
await runner.start();
process.stdout.write('running\n');
process.on('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});
