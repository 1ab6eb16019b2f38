/**
 * Child process for the kill -9 test: runs one SinkRunner with the Redis sink (write-through) until
 * killed. Configuration from env: CHILD_TOPIC, CHILD_GROUP, CHILD_OFFSETS_KEY, CHILD_PREFIX, CHILD_DB.
 */
import { endpoints } from '../../scripts/stack/endpoints.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { testKafka } from '../support/kafka.js';
import { redisSinkInput } from '../support/redis-config.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const prefix = env('CHILD_PREFIX');
const kafka = testKafka({ clientId: 'runtime-child' });
const sink = new RedisSink(
  redisSinkSpec.parse(redisSinkInput(endpoints().redisUrl, Number(env('CHILD_DB')), { 'public.crash': { keys: [`${prefix}row:{id}`, `${prefix}inv:{id}`], mode: 'write-through' } })),
  env('CHILD_OFFSETS_KEY'),
  silentLogger,
);
const config = resolveSinkConfig(
  sinkCommonSpec.parse({ name: 'crash', type: 'redis', topics: [env('CHILD_TOPIC')], 'group.id': env('CHILD_GROUP'), 'batch.max.records': 20, 'batch.max.wait.ms': 20 }),
  { pipeline: 'crash', topicPrefix: 'crash' },
);
const runner = new SinkRunner({ kafka, sink, config, pipeline: 'crash', logger: silentLogger, sessionTimeoutMs: 6_000 });
runner.on('failed', (e: Error) => {
  process.stderr.write(`FAILED ${e.message}\n`);
  process.exit(2);
});
await runner.start();
process.stdout.write('running\n');
process.on('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});
