/**
 * Common config of every sink (the fields that are not type-specific). A sink entry in a connector
 * file is this spec merged with its plugin's spec (src/sinks/registry.ts). Dotted names follow
 * Kafka Connect where it has one (`errors.tolerance`, `errors.deadletterqueue.topic.name`).
 */
import { z } from 'zod';
import { sinkGroupId } from '../group-id.js';

export const sinkCommonSpec = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, "_", "." or "-" (it becomes part of the group id and topic names)')
      .describe('Sink name, unique within the pipeline; part of the default consumer group id and dead-letter topic name.'),
    type: z.string().min(1).describe('Sink type: one of the registered plugins (elasticsearch, clickhouse, redis, webhook).'),
    topics: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Kafka topics to consume. Give either `topics` or `tables`, or neither: then the sink follows the source\'s table selection (every captured table, including tables that join it later; see docs/table-lifecycle.md).'),
    tables: z
      .array(z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'write tables as "schema.table", e.g. "public.users"'))
      .min(1)
      .optional()
      .describe('Tables to consume, as "schema.table"; mapped to topics "<topic.prefix>.<schema>.<table>". Overrides the source\'s table selection for this sink. Give either `topics` or `tables`, or neither (follow the source).'),
    'topics.discovery.interval.ms': z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Sinks that follow the source\'s table selection (no `topics`/`tables`): how often to look for the topic of a table that joined it; a new one makes the sink re-subscribe (a short restart of its consumer).'),
    'group.id': z
      .string()
      .min(1)
      .optional()
      .describe('Kafka consumer group id; default "cdc-fanout.<pipeline>.<sink name>". Also names where the sink stores its offsets.'),
    'batch.max.records': z.number().int().positive().default(1000).describe('Most records handed to the sink in one write (per partition).'),
    'batch.max.bytes': z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024)
      .describe('Most bytes (key + value) in one write; also bounds the bytes fetched per partition, so memory stays bounded when the sink is slower than the topic.'),
    'batch.max.wait.ms': z
      .number()
      .int()
      .nonnegative()
      .default(100)
      .describe('Longest the broker waits to fill a fetch before returning what it has (latency vs. batch size).'),
    'errors.tolerance': z
      .enum(['none', 'dlq', 'skip'])
      .default('none')
      .describe('What to do with a record the sink can never apply: "none" stops its table (topic) at that record with the error, while the other tables go on (the sink\'s resume action or a restart retries it from there), "dlq" sends it to the dead-letter topic, "skip" counts and logs it.'),
    'errors.deadletterqueue.topic.name': z
      .string()
      .min(1)
      .optional()
      .describe('Dead-letter topic (errors.tolerance=dlq); default "<topic.prefix>.dlq.<sink name>".'),
    'errors.retry.initial.backoff.ms': z.number().int().positive().default(200).describe('First wait before retrying a batch after a transient (retriable) sink error.'),
    'errors.retry.max.backoff.ms': z.number().int().positive().default(30_000).describe('Longest wait between retries; retries of a batch never stop on their own (nothing is skipped), the partition waits.'),
    'errors.retry.jitter': z.number().min(0).max(1).default(0.2).describe('Random fraction (0..1) added to/subtracted from each backoff so many sinks do not retry in lock-step.'),
    'partitions.concurrency': z.number().int().positive().default(4).describe('Partitions processed in parallel by one process (order is kept within a partition).'),
  })
  .strict();

export type SinkCommonConfig = z.infer<typeof sinkCommonSpec>;

export interface ResolvedSinkConfig extends SinkCommonConfig {
  readonly topicList: readonly string[];
  readonly groupId: string;
  readonly dlqTopic: string;
}

/**
 * Fills the derived values (topics from tables, group id, DLQ topic). Neither topics nor tables:
 * an empty topicList, allowed only when the sink follows the source's selection (`follow`: its
 * topics are discovered at run time); otherwise a clear error.
 */
export function resolveSinkConfig(config: SinkCommonConfig, ctx: { pipeline: string; topicPrefix: string; follow?: boolean }): ResolvedSinkConfig {
  const fromTables = (config.tables ?? []).map((t) => `${ctx.topicPrefix}.${t}`);
  const topicList = [...new Set([...(config.topics ?? []), ...fromTables])];
  if (topicList.length === 0 && !ctx.follow) {
    throw new Error(`sink "${config.name}": set "topics" (Kafka topic names) or "tables" (["schema.table", ...]) so the sink knows what to consume`);
  }
  return {
    ...config,
    topicList,
    groupId: sinkGroupId(ctx.pipeline, config),
    dlqTopic: config['errors.deadletterqueue.topic.name'] ?? `${ctx.topicPrefix}.dlq.${config.name}`,
  };
}
