/**
 * The seam to the sink runtime: a configured sink (common fields + plugin fields) becomes a
 * SinkHandle around a fresh SinkRunner + Sink instance per (re)start.
 */
import type { z } from 'zod';
import { kafkaClient } from '../kafka/client.js';
import type { KafkaConfig } from '../kafka/config.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';
import { loadSinkPlugin } from '../sinks/registry.js';
import { resolveSinkConfig, sinkCommonSpec, type SinkCommonConfig } from '../sinks/runtime/config.js';
import { SinkRunner } from '../sinks/runtime/runner.js';
import { sinkTopics } from '../config/sink-topics.js';
import type { SinkFactory, SinkHandle, SinkRuntimeStatus } from './handles.js';
import { metricSum, metricValues } from './metric-values.js';
import type { PartitionStatus } from './status.js';

export interface SinkAdapterInput {
  readonly pipeline: string;
  readonly topicPrefix: string;
  readonly kafka: KafkaConfig;
  readonly sink: Record<string, unknown> & { name: string; type: string };
  readonly logger: Logger;
  /** The source database as a libpq URL, handed to sinks that read the source catalog. */
  readonly sourceDatabaseUrl?: string;
  /** Overrides for tests (shorter kafkajs session timeout → quicker rebalances). */
  readonly sessionTimeoutMs?: number;
}

function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

export async function sinkFactory(input: SinkAdapterInput): Promise<SinkFactory> {
  const plugin = await loadSinkPlugin(input.sink.type);
  const pluginConfig: z.infer<typeof plugin.spec> = plugin.spec.parse(pick(input.sink, Object.keys(plugin.spec.shape)));
  const common = sinkCommonSpec.parse({
    ...pick(input.sink, Object.keys(sinkCommonSpec.shape)),
    // `tables` may be the plugin's per-table map; the runtime gets the topic list instead.
    tables: undefined,
    topics: sinkTopics(input.sink, input.topicPrefix),
  }) as SinkCommonConfig;
  const resolved = resolveSinkConfig(common, { pipeline: input.pipeline, topicPrefix: input.topicPrefix });
  const labels = { pipeline: input.pipeline, sink: input.sink.name };

  return (ctx): SinkHandle => {
    const logger = input.logger.child({ sink: input.sink.name });
    const sink = plugin.create(pluginConfig, { pipeline: input.pipeline, sinkName: input.sink.name, topicPrefix: input.topicPrefix, groupId: resolved.groupId, logger, ...(input.sourceDatabaseUrl ? { sourceDatabaseUrl: input.sourceDatabaseUrl } : {}) });
    const runner = new SinkRunner({
      kafka: kafkaClient(input.kafka, { clientIdSuffix: `${input.pipeline}.${input.sink.name}` }),
      sink,
      config: resolved,
      pipeline: input.pipeline,
      logger,
      dlqSize: { maxRequestSize: input.kafka['max.request.size'], ...(input.kafka['topic.creation.max.message.bytes'] ? { topicMaxMessageBytes: input.kafka['topic.creation.max.message.bytes'] } : {}) },
      ...(input.sessionTimeoutMs ? { sessionTimeoutMs: input.sessionTimeoutMs } : {}),
    });
    runner.on('failed', (err: Error) => ctx.onFailure(err));
    return {
      start: () => runner.start(),
      stop: () => runner.stop(),
      pause: () => Promise.resolve(runner.pause()),
      resume: () => Promise.resolve(runner.resume()),
      async status(): Promise<SinkRuntimeStatus> {
        const lags = await metricValues(metrics.sinkLag, labels);
        const offsets = new Map(runner.offsets().map((o) => [`${o.topic}:${o.partition}`, o.offset]));
        const partitions: PartitionStatus[] = lags.map((l) => {
          const topic = l.labels.topic ?? '';
          const partition = Number(l.labels.partition);
          return { topic, partition, offset: offsets.get(`${topic}:${partition}`) ?? null, highWatermark: null, lag: l.value };
        });
        for (const o of runner.offsets()) {
          if (!partitions.some((p) => p.topic === o.topic && p.partition === o.partition)) partitions.push({ topic: o.topic, partition: o.partition, offset: o.offset, highWatermark: null, lag: null });
        }
        partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
        const st = runner.state;
        return {
          state: st.name,
          ...(st.reason ? { reason: st.reason } : {}),
          records: await metricSum(metrics.sinkRecords, labels),
          partitions,
          details: { groupId: resolved.groupId, topics: resolved.topicList, errorsTolerance: resolved['errors.tolerance'], dlqTopic: resolved.dlqTopic, dlq: await metricSum(metrics.sinkDlq, labels) },
        };
      },
    };
  };
}
