/**
 * The seam to the sink runtime: a configured sink (common fields + plugin fields) becomes a
 * SinkHandle around a fresh SinkRunner + Sink instance per (re)start.
 */
import type { TlsSettings } from '../spec/tls.js';
import { specFields } from '../spec/spec-fields.js';
import type { z } from 'zod';
import { kafkaClient } from '../kafka/client.js';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { loadSinkPlugin } from '../sinks/registry.js';
import { resolveSinkConfig, sinkCommonSpec, type SinkCommonConfig } from '../sinks/runtime/config.js';
import { newSinkRunnerStats, SinkRunner } from '../sinks/runtime/runner.js';
import type { DlqTarget } from '../sinks/runtime/dlq-replay.js';
import type { Sink } from '../sinks/sink.js';
import { followsSource, sinkTopics, sourceTopicMatcher, type FollowedSource } from '../config/sink-topics.js';
import type { SinkConfig } from '../config/schema.js';
import type { SinkCounters, SinkFactory, SinkHandle, SinkRuntimeStatus } from './handles.js';
import type { PartitionStatus } from './status.js';

export interface SinkAdapterInput {
  readonly pipeline: string;
  readonly topicPrefix: string;
  readonly kafka: KafkaConfig;
  readonly sink: SinkConfig;
  readonly logger: Logger;
  /** The source database as a libpq URL, handed to sinks that read the source catalog. */
  readonly sourceDatabaseUrl?: string;
  /** The source's `database.tls` group (applies to sourceDatabaseUrl). */
  readonly sourceDatabaseTls?: TlsSettings;
  /** Overrides for tests (shorter kafkajs session timeout → quicker rebalances). */
  readonly sessionTimeoutMs?: number;
  /** The pipeline's source block: a sink with neither `topics` nor `tables` follows its table selection. */
  readonly source?: FollowedSource;
}

export interface SinkFactoryResult {
  readonly factory: SinkFactory;
  /** Shared by every runner the factory builds, so counts survive restarts. */
  readonly counters: SinkCounters;
  /** The sink's dead-letter topic: list and replay it (src/sinks/runtime/dlq-replay.ts) with this sink's config. */
  readonly dlq: DlqTarget;
}

export async function sinkFactory(input: SinkAdapterInput): Promise<SinkFactoryResult> {
  const plugin = await loadSinkPlugin(input.sink.type);
  const pluginConfig: z.infer<typeof plugin.spec> = plugin.spec.parse(specFields(input.sink, plugin.spec));
  // Precedence: the sink's own `topics`/`tables` replace the source's table selection; with neither,
  // the sink follows the selection, tables that join it later included.
  const follow = followsSource(input.sink) && input.source ? sourceTopicMatcher(input.source) : undefined;
  const own = follow ? [] : sinkTopics(input.sink, input.topicPrefix, input.source?.['topic.routing.template']);
  const common = sinkCommonSpec.parse({
    ...specFields(input.sink, sinkCommonSpec),
    // The runtime gets the topic list the tables name.
    tables: undefined,
    topics: own.length > 0 ? own : undefined,
  }) as SinkCommonConfig;
  const resolved = resolveSinkConfig(common, { pipeline: input.pipeline, topicPrefix: input.topicPrefix, follow: follow !== undefined });
  const stats = newSinkRunnerStats();

  const createSink = (logger: Logger): Sink =>
    plugin.create(pluginConfig, { pipeline: input.pipeline, sinkName: input.sink.name, topicPrefix: input.topicPrefix, groupId: resolved.groupId, logger, kafka: input.kafka, ...(input.sourceDatabaseUrl ? { sourceDatabaseUrl: input.sourceDatabaseUrl } : {}), ...(input.sourceDatabaseTls ? { sourceDatabaseTls: input.sourceDatabaseTls } : {}) });
  const dlqSize = { maxRequestSize: input.kafka['max.request.size'], ...(input.kafka['topic.creation.max.message.bytes'] ? { topicMaxMessageBytes: input.kafka['topic.creation.max.message.bytes'] } : {}) };

  const factory: SinkFactory = (ctx): SinkHandle => {
    const logger = input.logger.child({ sink: input.sink.name });
    const create = (): SinkRunner => {
      const sink = createSink(logger);
      return new SinkRunner({
        kafka: kafkaClient(input.kafka, { clientIdSuffix: `${input.pipeline}.${input.sink.name}` }),
        sink,
        config: resolved,
        pipeline: input.pipeline,
        logger,
        dlqSize,
        stats,
        ...(input.sessionTimeoutMs ? { sessionTimeoutMs: input.sessionTimeoutMs } : {}),
        ...(follow ? { discoverTopics: { match: follow, intervalMs: resolved['topics.discovery.interval.ms'] } } : {}),
      });
    };
    let stopped = false;
    let restarting: Promise<void> = Promise.resolve();
    // A topic of a table that joined the source's selection: a fresh runner (and sink instance)
    // subscribes to it too — kafkajs resolves a subscription once. Offsets come from the sink's own
    // store on every assignment, so nothing is re-applied or skipped across the switch.
    const onTopics = (): void => {
      restarting = restarting
        .then(async () => {
          if (stopped) return;
          await runner.stop();
          if (stopped) return;
          runner = build();
          await runner.start();
        })
        .catch((err: unknown) => ctx.onFailure(err instanceof Error ? err : new Error(String(err))));
    };
    const build = (): SinkRunner => {
      const r = create();
      r.on('topics', onTopics);
      r.on('failed', (err: Error) => ctx.onFailure(err));
      return r;
    };
    let runner = build();
    return {
      start: () => runner.start(),
      stop: async () => {
        stopped = true;
        await restarting;
        await runner.stop();
      },
      pause: () => Promise.resolve(runner.pause()),
      resume: () => Promise.resolve(runner.resume()),
      state: () => ({ state: runner.state.name, reason: runner.state.reason }),
      status(): Promise<SinkRuntimeStatus> {
        const lag = runner.lag();
        const partitions: PartitionStatus[] = lag.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset, highWatermark: p.endOffset, lag: p.lag, timeLagMs: p.timeLagMs }));
        return Promise.resolve({
          partitions,
          lag: lag.lag,
          timeLagMs: lag.timeLagMs,
          lagUpdatedAt: lag.updatedAt,
          failedTables: runner.failedTables().map((t) => ({ state: 'FAILED' as const, ...t })),
          details: { groupId: resolved.groupId, topics: follow ? runner.subscribedTopics : resolved.topicList, followsSource: follow !== undefined, errorsTolerance: resolved['errors.tolerance'], dlqTopic: resolved.dlqTopic, dlq: stats.dlq },
        });
      },
    };
  };
  const dlqLogger = input.logger.child({ sink: input.sink.name, dlq: true });
  const dlq: DlqTarget = {
    kafka: kafkaClient(input.kafka, { clientIdSuffix: `${input.pipeline}.${input.sink.name}.dlq` }),
    config: resolved,
    pipeline: input.pipeline,
    topicPrefix: input.topicPrefix,
    logger: dlqLogger,
    createSink: () => createSink(dlqLogger),
    dlqSize,
    ...(input.sessionTimeoutMs ? { sessionTimeoutMs: input.sessionTimeoutMs } : {}),
  };
  return { factory, counters: stats, dlq };
}
