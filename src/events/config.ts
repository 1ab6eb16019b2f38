/**
 * Config spec of the event layer (value conversion, keys, topics, envelope). Debezium's property
 * names and values where Debezium has them; the source/daemon specs merge this object in.
 */
import { z } from 'zod';
import { parseMessageKeyColumns } from './key-columns.js';

/** Kafka cleanup.policy values for the data topics cdc-fanout creates. */
export const cleanupPolicies = ['compact', 'delete', 'compact,delete'] as const;
export type CleanupPolicy = (typeof cleanupPolicies)[number];

export const eventsSpec = z
  .object({
    'topic.prefix': z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9._-]+$/, 'use only letters, digits, ".", "_" and "-" (it becomes part of Kafka topic names)')
      .describe('Logical name of the source (Debezium topic.prefix): first part of every topic name and source.name in events.'),
    'decimal.handling.mode': z
      .enum(['string', 'double', 'precise'])
      .default('string')
      .describe(
        'numeric/decimal values: "string" exact text (default here; Debezium defaults to precise), "double" a JSON number (may round), "precise" Kafka Connect Decimal bytes as base64 (VariableScaleDecimal {scale,value} for numeric without scale). NaN/Infinity: strings in string/double mode, null in precise mode.',
      ),
    'bigint.handling.mode': z
      .enum(['long', 'string'])
      .default('long')
      .describe(
        'int8 values: "long" a JSON number when within ±(2^53-1), else a decimal string so JavaScript consumers cannot lose precision (Debezium would write a 64-bit JSON number); "string" always a decimal string. cdc-fanout extension.',
      ),
    'time.precision.mode': z
      .enum(['adaptive', 'adaptive_time_microseconds', 'connect', 'isostring'])
      .default('adaptive')
      .describe(
        'date/time/timestamp values (timestamptz and timetz are always ISO strings): "adaptive" (Debezium default) days / millis or micros by column precision (p<=3 millis, else micros); "adaptive_time_microseconds" time always micros; "connect" Kafka Connect Date/Time/Timestamp (days, millis); "isostring" ISO-8601 strings.',
      ),
    'binary.handling.mode': z
      .enum(['bytes', 'base64', 'base64-url-safe', 'hex'])
      .default('bytes')
      .describe('bytea values: "bytes" (Debezium default; JSON carries bytes as base64) and "base64" a base64 string, "base64-url-safe" URL-safe base64, "hex" lower-case hex.'),
    'interval.handling.mode': z
      .enum(['numeric', 'string'])
      .default('numeric')
      .describe('interval values: "numeric" microseconds (Debezium MicroDuration: a month counts 30.4375 days), "string" ISO-8601 like P1Y2M3DT4H5M6.78S.'),
    'hstore.handling.mode': z
      .enum(['json', 'map'])
      .default('json')
      .describe('hstore values: "json" a string holding a JSON object (Debezium default), "map" a JSON object.'),
    'tombstones.on.delete': z
      .boolean()
      .default(true)
      .describe('Emit a tombstone (same key, null value) after each delete so compacted topics forget the row.'),
    'message.key.columns': z
      .string()
      .superRefine((spec, ctx) => {
        try {
          parseMessageKeyColumns(spec);
        } catch (e) {
          const message = (e as Error).message.replace(/^message\.key\.columns: /, '').replace(/Invalid regular expression: \/.*\/[a-z]*: /, '');
          ctx.addIssue({ code: 'custom', message: `${message}; entries are "<schema>.<table regex>:<column>[,<column>…]" separated by ";"` });
        }
      })
      .default('')
      .describe(
        'Key columns per table, overriding the primary key: "<schema>.<table>:<col>[,<col>…]" entries separated by ";" (Debezium syntax; the table part is a regular expression), e.g. "public.orders:tenant_id,id". Tables without primary key and without an entry get a null key.',
      ),
    'topic.routing.template': z
      .string()
      .default('{prefix}.{schema}.{table}')
      .describe('Data topic name template; placeholders {prefix}, {schema}, {table} (the one template syntax: `{name}`; `${…}` is only environment/file interpolation). Default gives Debezium names "<topic.prefix>.<schema>.<table>".'),
    'schemas.enable': z
      .boolean()
      .default(false)
      .describe('Wrap keys and values as Kafka Connect JsonConverter does with schemas.enable=true: {"schema": {...}, "payload": ...}.'),
    'provide.transaction.metadata': z
      .boolean()
      .default(false)
      .describe('Add the transaction block to each event and write BEGIN/END records to "<topic.prefix>.transaction".'),
    'transaction.topic': z
      .string()
      .default('{prefix}.transaction')
      .describe('Topic for transaction BEGIN/END records (placeholder {prefix}); Debezium names it "<topic.prefix>.transaction".'),
    'topic.cleanup.policy': z
      .enum(cleanupPolicies)
      .default('compact')
      .describe(
        'cleanup.policy of the data topics cdc-fanout creates (existing topics are left alone; `validate --online` flags a mismatch). "compact" (default): the log keeps the latest event of every row forever, tombstones remove deleted rows, so `cdc-fanout rebuild` can recompute any sink from offset 0; "delete": the broker\'s time/size retention (a rebuild then sees only what is retained); "compact,delete": both. A table without a key always gets "delete" (Kafka rejects null-key records on compacted topics). On a compacted topic a TRUNCATE event carries the key {} instead of Debezium\'s null (see README "Guarantees"). See docs/rebuild.md.',
      ),
    'topic.cleanup.policy.tables': z
      .record(z.string().regex(/^[^.]+\.[^.]+$/, 'use "<schema>.<table>", e.g. "public.audit_log"'), z.enum(cleanupPolicies))
      .default({})
      .describe('Per-table override of topic.cleanup.policy, keyed by "<schema>.<table>" (exact name), e.g. {"public.audit_log": "delete"}.'),
    'message.topic': z
      .string()
      .default('{prefix}.message')
      .describe('Topic for pg_logical_emit_message events (placeholder {prefix}). cdc-fanout extension; Debezium uses "<topic.prefix>.message".'),
  })
  .strict();

export type EventsConfig = z.infer<typeof eventsSpec>;

/** The options value conversion depends on (a subset of EventsConfig). */
export type ConvertOptions = Pick<
  EventsConfig,
  'decimal.handling.mode' | 'bigint.handling.mode' | 'time.precision.mode' | 'binary.handling.mode' | 'interval.handling.mode' | 'hstore.handling.mode'
>;

export const DEFAULT_CONVERT_OPTIONS: ConvertOptions = Object.freeze({
  'decimal.handling.mode': 'string',
  'bigint.handling.mode': 'long',
  'time.precision.mode': 'adaptive',
  'binary.handling.mode': 'bytes',
  'interval.handling.mode': 'numeric',
  'hstore.handling.mode': 'json',
});
