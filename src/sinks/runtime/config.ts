/**
 * Common config of every sink (the fields that are not type-specific). A sink entry in a connector
 * file is this spec merged with its plugin's spec (src/sinks/registry.ts). Dotted names follow
 * Kafka Connect where it has one (`errors.tolerance`, `errors.deadletterqueue.topic.name`).
 */
import { z } from 'zod';
import { retryShape, tablesField } from '../../spec/groups.js';
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
      .describe('Kafka topic names to consume, for a source.topic.routing.template that does not name one topic per table; otherwise write `tables`. Give either `topics` or `tables`, or neither (follow the source).'),
    tables: tablesField,
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
    'fetch.max.bytes': z
      .number()
      .int()
      .positive()
      // 4 MiB (was 8): with all three sinks behind in a 1M-row transaction the daemon peaked at 268 MB
      // RSS instead of 306 MB (bench:e2e --large-tx, docs/benchmarks.md); each sink's decoded copy of
      // a fetch is several times its bytes.
      .default(4 * 1024 * 1024)
      .describe(
        'Most bytes one Kafka fetch of this sink returns over all its partitions (Kafka\'s fetch.max.bytes; batch.max.bytes bounds each partition). The fetched records stay in memory until every batch of the fetch is written, so this bounds what a sink holds when it is slower than the topic (decoded, several times these bytes). A single record batch larger than this is still fetched whole. Raise it for a sink that drains large backlogs when memory allows.',
      ),
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
    // The shared retry group: a batch that failed with a transient (retriable) sink error is retried;
    // retries of a batch never stop on their own (nothing is skipped), the partition waits.
    ...retryShape('errors.retry', { initialMs: 200, maxMs: 30_000 }, 'a batch after a transient (retriable) sink error (retries never stop on their own: nothing is skipped, the partition waits)'),
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
