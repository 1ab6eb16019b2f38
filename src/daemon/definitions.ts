/** Turns validated pipeline configs into runtime definitions (source + sink factories). */
import type { LoadedPipeline } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineDefinition } from './pipeline.js';
import { sinkFactory } from './sink-adapter.js';
import { sourceDatabaseUrl } from '../source/source-url.js';
import { sourceFactory } from './source-adapter.js';

/**
 * What a daemon runs of each pipeline: `all` (the default), only the `source` (PG → Kafka), or only
 * the `sinks` (Kafka → sinks). Source and sinks meet only in Kafka (topics and the offsets topic on
 * one side, each sink's own offset store on the other), so splitting them over processes changes no
 * guarantee: a `sinks` daemon needs no replication access, a `source` daemon no sink server.
 */
export type DaemonRole = 'all' | 'source' | 'sinks';

export interface DefinitionOptions {
  readonly logger: Logger;
  /** Default `all`. */
  readonly role?: DaemonRole;
  readonly sessionTimeoutMs?: number;
}

export async function buildDefinitions(pipelines: readonly LoadedPipeline[], opts: DefinitionOptions): Promise<PipelineDefinition[]> {
  return Promise.all(
    pipelines.map(async ({ file, config }) => {
      const { source, kafka } = config;
      const topicPrefix = source['topic.prefix'];
      const logger = opts.logger.child({ pipeline: config.name });
      const role = opts.role ?? 'all';
      const sinks = role === 'source' ? [] : config.sinks;
      return {
        name: config.name,
        file,
        topicPrefix,
        bootstrapServers: kafka['bootstrap.servers'],
        source: role === 'sinks' ? undefined : sourceFactory({ pipeline: config.name, source, kafka, logger }),
        sinks: await Promise.all(
          sinks.map(async (sink) => {
            const { factory, counters, dlq } = await sinkFactory({ pipeline: config.name, topicPrefix, kafka, sink, logger, sourceDatabaseUrl: sourceDatabaseUrl(source), source, ...(source['database.tls'] ? { sourceDatabaseTls: source['database.tls'] } : {}), ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}) });
            return { name: sink.name, type: sink.type, factory, counters, dlq, rebuild: { pipeline: config.name, topicPrefix, kafka, source, sink } };
          }),
        ),
      };
    }),
  );
}
