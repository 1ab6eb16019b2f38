/** Turns validated pipeline configs into runtime definitions (source + sink factories). */
import type { LoadedPipeline } from '../config/load.js';
import type { PipelineConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineDefinition } from './pipeline.js';
import { sinkFactory } from './sink-adapter.js';
import { sourceFactory } from './source-adapter.js';
import { parseHostEntry } from '../source/config.js';

export interface DefinitionOptions {
  readonly logger: Logger;
  readonly sessionTimeoutMs?: number;
}

export async function buildDefinitions(pipelines: readonly LoadedPipeline[], opts: DefinitionOptions): Promise<PipelineDefinition[]> {
  return Promise.all(
    pipelines.map(async ({ file, config }) => {
      const { source, kafka } = config;
      const topicPrefix = source['topic.prefix'];
      const logger = opts.logger.child({ pipeline: config.name });
      return {
        name: config.name,
        file,
        topicPrefix,
        bootstrapServers: kafka['bootstrap.servers'],
        source: sourceFactory({ pipeline: config.name, source, kafka, logger }),
        sinks: await Promise.all(
          config.sinks.map(async (sink) => {
            const { factory, counters, dlq } = await sinkFactory({ pipeline: config.name, topicPrefix, kafka, sink, logger, sourceDatabaseUrl: sourceDatabaseUrl(source), source, ...(source['database.tls'] ? { sourceDatabaseTls: source['database.tls'] } : {}), ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}) });
            return { name: sink.name, type: sink.type, factory, counters, dlq };
          }),
        ),
      };
    }),
  );
}

/** The source connection as a libpq URL (for sinks that read the source catalog). */
function sourceDatabaseUrl(source: PipelineConfig['source']): string {
  const u = new URL('postgres://localhost');
  // database.hosts: the first server (the catalog reads work on a standby too).
  const first = source['database.hosts'] ? parseHostEntry(source['database.hosts'].split(',')[0] ?? '', source['database.port']) : null;
  u.hostname = first?.host ?? source['database.hostname'];
  u.port = String(first?.port ?? source['database.port']);
  u.username = encodeURIComponent(source['database.user']);
  if (source['database.password']) u.password = encodeURIComponent(source['database.password']);
  u.pathname = `/${encodeURIComponent(source['database.dbname'])}`;
  return u.toString();
}
