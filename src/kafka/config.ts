/** Kafka connection settings shared by the source producer and the sink consumers (one spec, documented per field). */
import { z } from 'zod';
import { authField, authGroup, authVariant, tlsField } from '../spec/groups.js';

/** Field check of bootstrap.servers: every entry is host:port with a port in 1..65535. */
function brokerList(list: string, ctx: z.core.$RefinementCtx<string>): void {
  for (const entry of list.split(',').map((s) => s.trim())) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d+)$/.exec(entry);
    const port = m ? Number(m[2]) : NaN;
    if (m && port >= 1 && port <= 65535) continue;
    const hint = entry === '' ? 'an empty entry (a stray ",")' : /^[a-z]+:\/\//i.test(entry) ? `"${entry}" is a URL` : !m && !/:\d*$/.test(entry) ? `"${entry}" has no port` : `"${entry}" has no valid port (1-65535)`;
    ctx.addIssue({ code: 'custom', message: `${hint}; write each broker as host:port, comma-separated, e.g. "${entry && !/^[a-z]+:\/\//i.test(entry) ? entry.replace(/:.*$/, '') : '127.0.0.1'}:9092"` });
  }
}

export const kafkaSpec = z
  .object({
    'bootstrap.servers': z
      .string()
      .min(1)
      .superRefine(brokerList)
      .describe('Comma-separated host:port list of Kafka brokers, e.g. "127.0.0.1:9092".'),
    'client.id': z.string().default('cdc-fanout').describe('Client id sent to the brokers (shows in broker logs and quotas).'),
    'request.timeout.ms': z.number().int().positive().default(30000).describe('Per-request timeout against the brokers.'),
    'connection.timeout.ms': z.number().int().positive().default(10000).describe('Timeout for opening a broker connection.'),
    'topic.creation.partitions': z
      .number()
      .int()
      .positive()
      .default(3)
      .describe('Partitions for data topics cdc-fanout creates (existing topics are left alone). Sinks scale out up to this many consumers.'),
    'topic.creation.replication.factor': z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('Replication factor for topics cdc-fanout creates. Use 3 on a real cluster.'),
    'max.request.size': z
      .number()
      .int()
      .min(1024)
      .default(1048576)
      .describe(
        'Largest Produce request the source and dead-letter producers send (Kafka producer\'s max.request.size): sends are split so the records of one request, and of every per-partition record batch, stay under it and under the topic\'s own max.message.bytes (read from the broker). Raise it together with the topics\' max.message.bytes for very wide rows.',
      ),
    'topic.creation.max.message.bytes': z
      .number()
      .int()
      .min(1024)
      .optional()
      .describe(
        'max.message.bytes set on data, offsets and dead-letter topics cdc-fanout creates; default max.request.size. Existing topics keep theirs: it is read at start and respected. Brokers also cap replication by replica.fetch.max.bytes (default 1 MB, not a hard limit since Kafka 0.10.1).',
      ),
    'topic.creation.min.compaction.lag.ms': z
      .number()
      .int()
      .min(0)
      .default(604_800_000)
      .describe(
        'min.compaction.lag.ms set on the compacted data topics cdc-fanout creates (topic.cleanup.policy). Compaction drops every event of a row but its latest; an event whose row had an unchanged TOAST value carries only a placeholder, so a sink that reads the compacted part of the log has no earlier full row to fill it from. Events younger than this are never compacted: a sink lagging less than it sees every event, as with delete retention (default 7 days, the broker\'s default retention.ms); older history is compacted to the latest event per row. 0: compact as soon as the log cleaner runs (only for tables whose rows have no TOASTable columns, or REPLICA IDENTITY FULL). See docs/rebuild.md.',
      ),
    tls: tlsField('TLS to the brokers (SSL or SASL_SSL listeners).'),
    sasl: authField(
      'SASL authentication (SASL_PLAINTEXT, or SASL_SSL together with `tls`); omit for none.',
      authVariant(
        z.object({
          username: authGroup.shape.username.unwrap(),
          password: authGroup.shape.password.unwrap(),
          mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism: plain (PLAIN), scram-sha-256 or scram-sha-512 (SCRAM-SHA-256/512).'),
        }).strict(),
        'username and password required, plus `mechanism`',
      ),
    ),
  })
  .strict();

export type KafkaConfig = z.infer<typeof kafkaSpec>;
