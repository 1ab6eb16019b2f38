/**
 * From one source change to the Kafka records for it — the function the source calls per change.
 *
 *  - c / r / u: one record keyed by the row's key.
 *  - u whose key changed (the old tuple's key differs): like Debezium, a `d` at the old key
 *    (header __debezium.newkey), its tombstone (same header; unless tombstones.on.delete=false), then a `c` at
 *    the new key (header __debezium.oldkey).
 *  - d: the delete event, then a tombstone (same key, null value) unless tombstones.on.delete=false.
 *  - t: one `t` event per truncated table (null key; {} where the table's topic is compacted, see truncateKey); m: a logical decoding message on the message topic.
 * Every record carries the cdc.commit_lsn / cdc.seq headers of the change's Position; records split
 * from one change share it and must be applied in the order returned.
 */
import { readFileSync } from 'node:fs';
import { HEADERS, type Op, type Row } from './change.js';
import { eventsSpec, type CleanupPolicy, type EventsConfig } from './config.js';
import { compileConverter } from './convert/compile.js';
import {
  serializeEnvelope,
  serializeSource,
  sourceTemplate,
  wrapWithSchema,
  type EnvelopeStatics,
  type SourceInfo,
  type SourceTemplate,
  type TransactionBlock,
} from './envelope.js';
import { compileKeyBuilder, keyColumnIndices, parseMessageKeyColumns, type KeyBuilder, type KeyColumnsRule } from './keys.js';
import { compileRowConverter, type RowConverter } from './row.js';
import { envelopeSchema, inConverterOrder, keySchema, SOURCE_SCHEMA, type ConnectSchema } from './schema.js';
import { compileTopicNamer, prefixedTopic, type TopicNamer } from './topics.js';
import { TransactionTracker, type TransactionStart, type TransactionValue } from './transaction.js';
import { effectiveTypmod, type Column, type RawTuple, type RelationInfo } from './types.js';
import type { z } from 'zod';

export type { SourceInfo, SnapshotMarker, TransactionBlock } from './envelope.js';

/** One change as the source hands it over (raw text tuples, positional over relation.columns). */
export type SourceChange =
  | {
      readonly op: 'c' | 'u' | 'd' | 'r';
      readonly relation: RelationInfo;
      /** Old tuple: full with REPLICA IDENTITY FULL, key-only (NULL elsewhere) when the key changed / on delete, else null. Required for d. */
      readonly before?: RawTuple | null;
      /** New tuple; required for c, u, r. */
      readonly after?: RawTuple | null;
      readonly source: SourceInfo;
    }
  | { readonly op: 't'; readonly relation: RelationInfo; readonly source: SourceInfo }
  | { readonly op: 'm'; readonly prefix: string; readonly content: Buffer; readonly transactional: boolean; readonly source: SourceInfo };

/** A Kafka record ready for the producer: serialized JSON key/value (null value = tombstone). */
export interface EventRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

export interface RecordBuilderContext {
  /** Database name (source.db). */
  readonly dbName: string;
  /** source.version; defaults to cdc-fanout's package version. */
  readonly version?: string;
  /** Clock for the envelope's ts_ms (processing time); defaults to Date.now. */
  readonly now?: () => number;
}

/** Debezium's headers on the two halves of a key-changing update. */
export const PK_UPDATE_HEADERS = { newKey: '__debezium.newkey', oldKey: '__debezium.oldkey' } as const;

interface RelationPlan {
  readonly topic: string;
  readonly dataCollection: string;
  readonly source: SourceTemplate;
  readonly row: RowConverter;
  readonly key: KeyBuilder | null;
  /** JSON of the key / value Connect schemas (schemas.enable=true), else null. */
  readonly keySchema: string | null;
  readonly valueSchema: string | null;
}

let packageVersion: string | undefined;
/** cdc-fanout's version from package.json (src/events and dist/events are both two levels deep). */
export function cdcFanoutVersion(): string {
  if (packageVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      packageVersion = pkg.version ?? '0.0.0';
    } catch {
      packageVersion = '0.0.0';
    }
  }
  return packageVersion;
}

const MESSAGE_KEY_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.postgresql.MessageKey',
  fields: [{ type: 'string', optional: true, field: 'prefix' }],
};
const MESSAGE_VALUE_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.postgresql.MessageValue',
  fields: [
    { type: 'string', optional: false, field: 'op' },
    { type: 'int64', optional: true, field: 'ts_ms' },
    SOURCE_SCHEMA,
    {
      type: 'struct',
      optional: true,
      name: 'io.debezium.connector.postgresql.Message',
      field: 'message',
      fields: [
        { type: 'string', optional: true, field: 'prefix' },
        { type: 'bytes', optional: true, field: 'content' },
      ],
    },
  ],
};
const TX_KEY_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.common.TransactionMetadataKey',
  fields: [{ type: 'string', optional: false, field: 'id' }],
};
const TX_VALUE_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.common.TransactionMetadataValue',
  fields: [
    { type: 'string', optional: false, field: 'status' },
    { type: 'string', optional: false, field: 'id' },
    { type: 'int64', optional: true, field: 'event_count' },
    {
      type: 'array',
      optional: true,
      field: 'data_collections',
      items: {
        type: 'struct',
        optional: false,
        fields: [
          { type: 'string', optional: false, field: 'data_collection' },
          { type: 'int64', optional: false, field: 'event_count' },
        ],
      },
    },
    { type: 'int64', optional: false, field: 'ts_ms' },
  ],
};

export class RecordBuilder {
  readonly config: EventsConfig;
  /** Topic of logical decoding messages (op m). */
  readonly messageTopic: string;
  /** Topic of transaction BEGIN/END records. */
  readonly transactionTopic: string;
  private readonly statics: EnvelopeStatics;
  private readonly now: () => number;
  private readonly topicNamer: TopicNamer;
  private readonly keyRules: KeyColumnsRule[];
  private readonly plans = new WeakMap<RelationInfo, RelationPlan>();
  /** cleanup.policy per data topic, recorded by topicFor when it is given the table's keys. */
  private readonly topicPolicies = new Map<string, CleanupPolicy>();
  private readonly tracker = new TransactionTracker();
  private readonly messageSource: SourceTemplate;
  private lastLsn = -1n;
  private lastLsnText = '';

  constructor(config: z.input<typeof eventsSpec>, context: RecordBuilderContext) {
    this.config = eventsSpec.parse(config);
    const prefix = this.config['topic.prefix'];
    this.statics = { version: context.version ?? cdcFanoutVersion(), name: prefix, db: context.dbName };
    this.now = context.now ?? Date.now;
    this.topicNamer = compileTopicNamer(this.config['topic.routing.template'], prefix);
    this.keyRules = parseMessageKeyColumns(this.config['message.key.columns']);
    this.messageTopic = prefixedTopic(this.config['message.topic'], prefix, 'message.topic');
    this.transactionTopic = prefixedTopic(this.config['transaction.topic'], prefix, 'transaction.topic');
    this.messageSource = sourceTemplate(this.statics, '', '');
  }

  /**
   * Data topic of a table. Given the table's key columns (a RelationInfo or captured-table
   * descriptor), it also records the topic's cleanup.policy for `cleanupPolicyOfTopic`, which the
   * topic admin asks when it creates the topic.
   */
  topicFor(relation: Pick<RelationInfo, 'schema' | 'table'> & { readonly keyColumns?: readonly string[] }): string {
    const topic = this.topicNamer(relation.schema, relation.table);
    if (relation.keyColumns !== undefined && !this.topicPolicies.has(topic)) {
      this.topicPolicies.set(topic, this.cleanupPolicyFor({ schema: relation.schema, table: relation.table, keyColumns: relation.keyColumns }));
    }
    return topic;
  }

  /**
   * cleanup.policy of a table's data topic: topic.cleanup.policy(.tables), except that a table
   * without a key (no primary key / replica-identity index and no message.key.columns entry) always
   * gets "delete": Kafka rejects null-key records on compacted topics (INVALID_RECORD).
   */
  cleanupPolicyFor(t: { readonly schema: string; readonly table: string; readonly keyColumns: readonly string[] }): CleanupPolicy {
    const qualified = `${t.schema}.${t.table}`;
    const keyed = t.keyColumns.length > 0 || this.keyRules.some((r) => r.table.test(qualified));
    return keyed ? this.configuredPolicy(t) : 'delete';
  }

  /** The cleanup.policy recorded by topicFor for a data topic (undefined: not a data topic seen with its keys). */
  cleanupPolicyOfTopic(topic: string): CleanupPolicy | undefined {
    return this.topicPolicies.get(topic);
  }

  private configuredPolicy(t: { readonly schema: string; readonly table: string }): CleanupPolicy {
    return this.config['topic.cleanup.policy.tables'][`${t.schema}.${t.table}`] ?? this.config['topic.cleanup.policy'];
  }

  /**
   * Key of a TRUNCATE event: Debezium's null, except where the table's configured cleanup.policy
   * compacts — Kafka rejects null keys there — where it is the empty key object {} (no row key is
   * empty, so it never collides with a row; compaction keeps the latest truncate, whose position
   * supersedes every earlier one). Decided by configuration, not by the table's current keys, so a
   * table that lost its key (or a removed table) still gets a key its compacted topic accepts.
   */
  private truncateKey(relation: RelationInfo): string | null {
    if (!this.configuredPolicy(relation).includes('compact')) return null;
    if (!this.config['schemas.enable']) return '{}';
    const schema = { type: 'struct', fields: [], optional: false, name: `${this.config['topic.prefix']}.${relation.schema}.${relation.table}.Key` };
    return wrapWithSchema(JSON.stringify(schema), '{}');
  }

  /**
   * Checks a relation up front (key columns exist, topic name valid) and compiles its converters;
   * throws a descriptive error. Optional: build() does it lazily.
   */
  prepare(relation: RelationInfo): void {
    this.plan(relation);
  }

  /** Kafka records for one change, in the order they must be produced. */
  build(change: SourceChange): EventRecord[] {
    const out: EventRecord[] = [];
    this.buildInto(change, out);
    return out;
  }

  /** Like build(), appending to `out` (no intermediate array). */
  buildInto(change: SourceChange, out: EventRecord[]): void {
    const s = change.source;
    const headers = this.headers(s);
    if (change.op === 'm') {
      out.push(this.message(change.prefix, change.content, s, headers));
      return;
    }
    const plan = this.plan(change.relation);
    const src = serializeSource(plan.source, s);
    const ts = this.now();
    if (change.op === 't') {
      out.push({ topic: plan.topic, key: this.truncateKey(change.relation), value: this.value(plan, null, null, src, 't', ts, s), headers });
      return;
    }
    const { before, after } = change;
    if (change.op === 'd') {
      if (!before) throw new Error(`delete on ${plan.dataCollection} without an old tuple`);
      const key = this.keyJson(plan, before, null);
      out.push({ topic: plan.topic, key, value: this.value(plan, plan.row(before), null, src, 'd', ts, s), headers });
      if (this.config['tombstones.on.delete']) out.push({ topic: plan.topic, key, value: null, headers });
      return;
    }
    if (!after) throw new Error(`${change.op === 'u' ? 'update' : 'insert'} on ${plan.dataCollection} without a new tuple`);
    const afterRow = plan.row(after);
    const key = this.keyJson(plan, after, before ?? null);
    if (change.op === 'u' && before) {
      const beforeRow = plan.row(before);
      const oldKey = plan.key ? this.keyJson(plan, before, null) : null;
      if (oldKey !== key) {
        // Like Debezium: the header values are the bare key structs (Connect's SimpleHeaderConverter
        // writes no {schema, payload} wrapper), and the tombstone carries the newkey header too.
        const newKeyHeader = key === null || !plan.key ? null : JSON.stringify(plan.key(after, before));
        const oldKeyHeader = oldKey === null || !plan.key ? null : JSON.stringify(plan.key(before, null));
        const deleteHeaders = newKeyHeader === null ? headers : { ...headers, [PK_UPDATE_HEADERS.newKey]: newKeyHeader };
        out.push({ topic: plan.topic, key: oldKey, value: this.value(plan, beforeRow, null, src, 'd', ts, s), headers: deleteHeaders });
        if (this.config['tombstones.on.delete']) out.push({ topic: plan.topic, key: oldKey, value: null, headers: deleteHeaders });
        out.push({
          topic: plan.topic,
          key,
          value: this.value(plan, null, afterRow, src, 'c', ts, s),
          headers: oldKeyHeader === null ? headers : { ...headers, [PK_UPDATE_HEADERS.oldKey]: oldKeyHeader },
        });
        return;
      }
      out.push({ topic: plan.topic, key, value: this.value(plan, beforeRow, afterRow, src, 'u', ts, s), headers });
      return;
    }
    out.push({ topic: plan.topic, key, value: this.value(plan, null, afterRow, src, change.op, ts, s), headers });
  }

  /**
   * Opens a transaction for the metadata block; returns its BEGIN record for the transaction topic
   * (none when provide.transaction.metadata=false).
   */
  beginTransaction(start: TransactionStart): EventRecord[] {
    if (!this.config['provide.transaction.metadata']) return [];
    return [this.txRecord(this.tracker.begin(start), start.commitLsn)];
  }

  /** Closes the open transaction; returns its END record (with per-table event counts). */
  endTransaction(commitLsn: bigint): EventRecord[] {
    if (!this.config['provide.transaction.metadata']) return [];
    const end = this.tracker.end();
    return end ? [this.txRecord(end, commitLsn)] : [];
  }

  private txRecord(v: TransactionValue, commitLsn: bigint): EventRecord {
    let key = `{"id":${JSON.stringify(v.id)}}`;
    let value = JSON.stringify(v);
    if (this.config['schemas.enable']) {
      key = wrapWithSchema(JSON.stringify(TX_KEY_SCHEMA), key);
      value = wrapWithSchema(JSON.stringify(TX_VALUE_SCHEMA), value);
    }
    return { topic: this.transactionTopic, key, value, headers: { [HEADERS.commitLsn]: commitLsn.toString() } };
  }

  private headers(s: SourceInfo): Record<string, string> {
    const lsn = s.position.commitLsn;
    if (lsn !== this.lastLsn) {
      this.lastLsn = lsn;
      this.lastLsnText = lsn.toString();
    }
    return { [HEADERS.commitLsn]: this.lastLsnText, [HEADERS.seq]: String(s.position.seq) };
  }

  private keyJson(plan: RelationPlan, tuple: RawTuple, fallback: RawTuple | null): string | null {
    if (!plan.key) return null;
    const json = JSON.stringify(plan.key(tuple, fallback));
    return plan.keySchema === null ? json : wrapWithSchema(plan.keySchema, json);
  }

  private value(plan: RelationPlan, before: Row | null, after: Row | null, src: string, op: Op, ts: number, s: SourceInfo): string {
    let tx: TransactionBlock | null = null;
    if (this.config['provide.transaction.metadata'] && s.xid !== null && this.tracker.id !== null) tx = this.tracker.next(plan.dataCollection);
    const json = serializeEnvelope(before, after, src, op, ts, tx);
    return plan.valueSchema === null ? json : wrapWithSchema(plan.valueSchema, json);
  }

  private message(prefix: string, content: Buffer, s: SourceInfo, headers: Record<string, string>): EventRecord {
    const src = serializeSource(this.messageSource, s);
    let key = `{"prefix":${JSON.stringify(prefix)}}`;
    let value = `{"op":"m","ts_ms":${this.now()},"source":${src},"message":{"prefix":${JSON.stringify(prefix)},"content":"${content.toString('base64')}"}}`;
    if (this.config['schemas.enable']) {
      key = wrapWithSchema(JSON.stringify(inConverterOrder(MESSAGE_KEY_SCHEMA)), key);
      value = wrapWithSchema(JSON.stringify(inConverterOrder(MESSAGE_VALUE_SCHEMA)), value);
    }
    return { topic: this.messageTopic, key, value, headers };
  }

  private plan(relation: RelationInfo): RelationPlan {
    const cached = this.plans.get(relation);
    if (cached) return cached;
    const options = this.config;
    const indices = keyColumnIndices(relation, this.keyRules);
    let key: KeyBuilder | null = null;
    let keySchemaJson: string | null = null;
    let valueSchemaJson: string | null = null;
    if (indices) {
      const converters = relation.columns.map((c) => compileConverter(c.type, effectiveTypmod(c), options));
      key = compileKeyBuilder(relation.columns, indices, converters);
    }
    const prefix = this.config['topic.prefix'];
    if (this.config['schemas.enable']) {
      if (indices) keySchemaJson = JSON.stringify(keySchema(prefix, relation, indices.map((i) => relation.columns[i] as Column), options));
      valueSchemaJson = JSON.stringify(envelopeSchema(prefix, relation, options));
    }
    const plan: RelationPlan = {
      topic: this.topicFor(relation),
      dataCollection: `${relation.schema}.${relation.table}`,
      source: sourceTemplate(this.statics, relation.schema, relation.table),
      row: compileRowConverter(relation, options),
      key,
      keySchema: keySchemaJson,
      valueSchema: valueSchemaJson,
    };
    this.plans.set(relation, plan);
    return plan;
  }
}

/** Convenience factory (same as `new RecordBuilder(config, context)`). */
export function createRecordBuilder(config: z.input<typeof eventsSpec>, context: RecordBuilderContext): RecordBuilder {
  return new RecordBuilder(config, context);
}
