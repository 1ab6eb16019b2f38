/**
 * Child process of the conformance suite's kill -9 check: builds the harness's sink through its
 * registered plugin (env CHILD_SINK, a JSON ChildSinkSpec), loads the stored offset of partition 0
 * and applies the conformance stream from there — write(batch) then commit(next offset), as the
 * runtime does — printing `writing <k>` before each batch, until killed (or the stream ends).
 */
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadSinkPlugin } from '../../src/sinks/registry.js';
import { nextOffset } from '../support/records.js';
import { batchAt, CONFORMANCE, STREAM, streamBatch, type ChildSinkSpec } from './conformance-stream.js';

const spec = JSON.parse(process.env.CHILD_SINK ?? 'null') as ChildSinkSpec | null;
if (!spec) throw new Error('missing env CHILD_SINK');
const plugin = await loadSinkPlugin(spec.type);
const sink = plugin.create(plugin.spec.parse(spec.config), {
  pipeline: spec.pipeline,
  sinkName: spec.sinkName,
  topicPrefix: CONFORMANCE.prefix,
  ...(spec.groupId ? { groupId: spec.groupId } : {}),
  logger: silentLogger,
  ...(spec.kafka ? { kafka: kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(','), 'client.id': 'conformance-child' }) } : {}),
});
await sink.open();
const [stored] = await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }]);
for (let k = batchAt(Number(stored?.offset ?? 0)); k < STREAM.batches; k++) {
  const batch = streamBatch(k);
  process.stdout.write(`writing ${k}\n`);
  const result = await sink.write(batch);
  if (result.rejected.length) throw new Error(`batch ${k}: ${result.rejected.length} rejected: ${result.rejected[0]?.error.message}`);
  await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
}
process.stdout.write('done\n');
await sink.close();
