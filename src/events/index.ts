/**
 * Public API of the event layer (Postgres text values → Debezium JSON → Kafka records).
 *
 * The source hands over raw text tuples (RawTuple, positional over RelationInfo.columns; null for
 * SQL NULL, UNCHANGED_TOAST for unchanged TOAST) and calls RecordBuilder.build per change.
 */
export * from './types.js';
export { BUILTIN_TYPES, builtinType, kindOfTypeName } from './builtin-types.js';
export { TypeRegistry, type Queryable } from './type-registry.js';
export { convertValue, compileConverter, type TextConverter } from './convert/index.js';
export { parseArrayLiteral, type ArrayItems } from './convert/array-literal.js';
export { compileRowConverter, type RowConverter } from './row.js';
export { eventsSpec, DEFAULT_CONVERT_OPTIONS, type EventsConfig, type ConvertOptions } from './config.js';
export { parseMessageKeyColumns, keyColumnIndices, type KeyColumnsRule } from './keys.js';
export { compileTopicNamer, prefixedTopic, type TopicNamer } from './topics.js';
export { TransactionTracker, type TransactionStart, type TransactionValue } from './transaction.js';
export { type ConnectSchema, envelopeSchema, keySchema, valueSchema } from './schema.js';
export {
  RecordBuilder,
  createRecordBuilder,
  cdcFanoutVersion,
  PK_UPDATE_HEADERS,
  type EventRecord,
  type RecordBuilderContext,
  type SourceChange,
  type SourceInfo,
  type SnapshotMarker,
  type TransactionBlock,
} from './record.js';
