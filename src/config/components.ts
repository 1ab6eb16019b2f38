/**
 * The seam between the config schema and the components' own specs: the source connector spec
 * (src/source), the Kafka spec (src/kafka), the common sink spec and the sink plugin registry
 * (src/sinks). The schema (schema.ts) composes whatever this file exports.
 */
import { z } from 'zod';
import { kafkaSpec } from '../kafka/config.js';
import type { SinkPlugin } from '../sinks/plugin.js';
import { sourceSpec } from '../source/config.js';

export interface ConfigComponents {
  /** Source connector spec (Postgres settings merged with event options). */
  readonly source: z.ZodObject;
  readonly kafka: z.ZodObject;
  /** Fields every sink has (name, type, topics, batching, error policy). */
  readonly sinkCommon: z.ZodObject;
  /** Sink types, each contributing its own fields. */
  readonly plugins: readonly Pick<SinkPlugin, 'type' | 'description' | 'spec'>[];
}

// PROVISIONAL until src/sinks/runtime/config.ts and src/sinks/registry.ts land (then imported here).
const provisionalSinkCommon = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/).describe('Sink name, unique within the pipeline.'),
    type: z.string().describe('Sink type.'),
    'table.include.list': z.string().optional().describe('Comma-separated `schema.table` regexes of the tables this sink receives (default: all captured).'),
    'group.id': z.string().optional().describe('Kafka consumer group (default `cdc-fanout.<pipeline>.<sink>`).'),
    'errors.tolerance': z.enum(['none', 'dlq', 'skip']).default('none').describe('What to do with records the sink can never apply.'),
  })
  .strict();

const provisionalPlugins: ConfigComponents['plugins'] = [
  { type: 'elasticsearch', description: 'Elasticsearch index per table.', spec: z.object({ 'connection.url': z.string().describe('Elasticsearch URL.'), index: z.string().optional().describe('Index name template.') }).strict() },
  { type: 'clickhouse', description: 'ClickHouse ReplacingMergeTree tables.', spec: z.object({ 'connection.url': z.string().describe('ClickHouse HTTP URL.'), database: z.string().default('default').describe('Database.') }).strict() },
  { type: 'redis', description: 'Redis cache invalidation / write-through.', spec: z.object({ 'connection.url': z.string().describe('Redis URL.'), 'key.template': z.string().optional().describe('Key template.') }).strict() },
];

export function defaultComponents(): ConfigComponents {
  return { source: sourceSpec, kafka: kafkaSpec, sinkCommon: provisionalSinkCommon, plugins: provisionalPlugins };
}
