/**
 * Kafka Connect JSON schemas (what JsonConverter writes with schemas.enable=true) for keys and
 * value envelopes, with Debezium's semantic type names. Built once per relation shape and cached.
 * Note: values we emit as decimal strings beyond ±2^53 (int8, micros) still carry their int64 schema.
 */
import type { ConvertOptions } from './config.js';
import { numericPrecision, numericScale } from './convert/numeric.js';
import { temporalPrecision } from './convert/compile.js';
import { effectiveTypmod, type Column, type ColumnType, type RelationInfo } from './types.js';

export interface ConnectSchema {
  type: 'struct' | 'array' | 'map' | 'string' | 'boolean' | 'int16' | 'int32' | 'int64' | 'float' | 'double' | 'bytes';
  optional: boolean;
  name?: string;
  version?: number;
  parameters?: Record<string, string>;
  field?: string;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
  keys?: ConnectSchema;
  values?: ConnectSchema;
  default?: string;
}

/** Key order of Kafka Connect's JsonConverter (asJsonSchema): type, children, optional, name, version, doc, parameters, default, field. */
const JSON_CONVERTER_ORDER = ['type', 'fields', 'items', 'keys', 'values', 'optional', 'name', 'version', 'parameters', 'default', 'field'] as const;

/**
 * The same schema with its keys (recursively) in JsonConverter's order, so `schemas.enable` output is
 * the text Debezium + JsonConverter write, not only the same JSON value. Built once per relation.
 */
export function inConverterOrder(s: ConnectSchema): ConnectSchema {
  const out: Record<string, unknown> = {};
  for (const k of JSON_CONVERTER_ORDER) {
    const v = s[k];
    if (v === undefined) continue;
    if (k === 'fields') out[k] = (v as ConnectSchema[]).map(inConverterOrder);
    else if (k === 'items' || k === 'keys' || k === 'values') out[k] = inConverterOrder(v as ConnectSchema);
    else out[k] = v;
  }
  return out as unknown as ConnectSchema;
}

function named(type: ConnectSchema['type'], name: string, optional: boolean, extra: Partial<ConnectSchema> = {}): ConnectSchema {
  return { type, optional, name, version: 1, ...extra };
}

/** Schema of one value of `type` (without the field name). */
export function valueSchema(type: ColumnType, typmod: number, optional: boolean, options: ConvertOptions): ConnectSchema {
  const tpm = options['time.precision.mode'];
  switch (type.kind) {
    case 'bool':
      return { type: 'boolean', optional };
    case 'int2':
      return { type: 'int16', optional };
    case 'int4':
      return { type: 'int32', optional };
    case 'int8':
      return options['bigint.handling.mode'] === 'string' ? { type: 'string', optional } : { type: 'int64', optional };
    case 'oid':
      return { type: 'int64', optional };
    case 'float4':
      return { type: 'float', optional };
    case 'float8':
      return { type: 'double', optional };
    case 'numeric': {
      const mode = options['decimal.handling.mode'];
      if (mode === 'string') return { type: 'string', optional };
      if (mode === 'double') return { type: 'double', optional };
      const scale = numericScale(typmod);
      if (scale === undefined) {
        return named('struct', 'io.debezium.data.VariableScaleDecimal', optional, {
          fields: [
            { type: 'int32', optional: false, field: 'scale' },
            { type: 'bytes', optional: false, field: 'value' },
          ],
        });
      }
      return named('bytes', 'org.apache.kafka.connect.data.Decimal', optional, {
        parameters: { scale: String(scale), 'connect.decimal.precision': String(numericPrecision(typmod)) },
      });
    }
    case 'enum':
      return named('string', 'io.debezium.data.Enum', optional, { parameters: { allowed: (type.enumLabels ?? []).join(',') } });
    case 'uuid':
      return named('string', 'io.debezium.data.Uuid', optional);
    case 'json':
    case 'jsonb':
      return named('string', 'io.debezium.data.Json', optional);
    case 'bytea':
      return options['binary.handling.mode'] === 'bytes' ? { type: 'bytes', optional } : { type: 'string', optional };
    case 'date':
      if (tpm === 'isostring') return named('string', 'io.debezium.time.IsoDate', optional);
      if (tpm === 'connect') return named('int32', 'org.apache.kafka.connect.data.Date', optional);
      return named('int32', 'io.debezium.time.Date', optional);
    case 'time':
      if (tpm === 'isostring') return named('string', 'io.debezium.time.IsoTime', optional);
      if (tpm === 'connect') return named('int32', 'org.apache.kafka.connect.data.Time', optional);
      if (tpm === 'adaptive' && temporalPrecision(typmod) <= 3) return named('int32', 'io.debezium.time.Time', optional);
      return named('int64', 'io.debezium.time.MicroTime', optional);
    case 'timetz':
      return named('string', 'io.debezium.time.ZonedTime', optional);
    case 'timestamp':
      if (tpm === 'isostring') return named('string', 'io.debezium.time.IsoTimestamp', optional);
      if (tpm === 'connect') return named('int64', 'org.apache.kafka.connect.data.Timestamp', optional);
      if (temporalPrecision(typmod) <= 3) return named('int64', 'io.debezium.time.Timestamp', optional);
      return named('int64', 'io.debezium.time.MicroTimestamp', optional);
    case 'timestamptz':
      return named('string', 'io.debezium.time.ZonedTimestamp', optional);
    case 'interval':
      return options['interval.handling.mode'] === 'string'
        ? named('string', 'io.debezium.time.Interval', optional)
        : named('int64', 'io.debezium.time.MicroDuration', optional);
    case 'bit':
      return typmod === 1 ? { type: 'boolean', optional } : { type: 'string', optional };
    case 'hstore':
      return options['hstore.handling.mode'] === 'map'
        ? { type: 'map', optional, keys: { type: 'string', optional: false }, values: { type: 'string', optional: true } }
        : named('string', 'io.debezium.data.Json', optional);
    case 'array': {
      const element = type.element as ColumnType;
      return { type: 'array', optional, items: valueSchema(element, typmod, true, options) };
    }
    case 'text':
    case 'string':
      // Debezium's semantic names for the string-valued types that have one
      if (type.name === 'xml') return named('string', 'io.debezium.data.Xml', optional);
      if (type.name === 'tsvector') return named('string', 'io.debezium.data.Tsvector', optional);
      return { type: 'string', optional };
  }
}

function columnField(column: Column, options: ConvertOptions, forceRequired = false): ConnectSchema {
  const optional = forceRequired ? false : column.nullable !== false;
  return { ...valueSchema(column.type, effectiveTypmod(column), optional, options), field: column.name };
}

/** `<prefix>.<schema>.<table>` — Debezium's schema-name base for Key/Value/Envelope. */
function schemaBase(prefix: string, relation: RelationInfo): string {
  return `${prefix}.${relation.schema}.${relation.table}`;
}

export function keySchema(prefix: string, relation: RelationInfo, keyColumns: readonly Column[], options: ConvertOptions): ConnectSchema {
  return inConverterOrder({
    type: 'struct',
    optional: false,
    name: `${schemaBase(prefix, relation)}.Key`,
    fields: keyColumns.map((c) => columnField(c, options, true)),
  });
}

export function rowSchema(prefix: string, relation: RelationInfo, options: ConvertOptions, field: string): ConnectSchema {
  return {
    type: 'struct',
    optional: true,
    name: `${schemaBase(prefix, relation)}.Value`,
    field,
    fields: relation.columns.map((c) => columnField(c, options)),
  };
}

const str = (field: string, optional = false): ConnectSchema => ({ type: 'string', optional, field });
const i64 = (field: string, optional = false): ConnectSchema => ({ type: 'int64', optional, field });

export const SOURCE_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: false,
  name: 'io.debezium.connector.postgresql.Source',
  version: 1,
  field: 'source',
  fields: [
    str('version'),
    str('connector'),
    str('name'),
    i64('ts_ms'),
    { type: 'string', optional: true, name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' }, default: 'false', field: 'snapshot' },
    str('db'),
    str('sequence', true),
    i64('ts_us', true),
    i64('ts_ns', true),
    str('schema'),
    str('table'),
    i64('txId', true),
    i64('lsn', true),
    i64('xmin', true),
    str('origin', true),
    i64('origin_lsn', true),
  ],
};

export const TRANSACTION_BLOCK_SCHEMA: ConnectSchema = {
  type: 'struct',
  optional: true,
  name: 'event.block',
  version: 1,
  field: 'transaction',
  fields: [str('id'), i64('total_order'), i64('data_collection_order')],
};

export function envelopeSchema(prefix: string, relation: RelationInfo, options: ConvertOptions): ConnectSchema {
  return inConverterOrder({
    type: 'struct',
    optional: false,
    name: `${schemaBase(prefix, relation)}.Envelope`,
    version: 2,
    fields: [
      rowSchema(prefix, relation, options, 'before'),
      rowSchema(prefix, relation, options, 'after'),
      SOURCE_SCHEMA,
      TRANSACTION_BLOCK_SCHEMA,
      str('op'),
      i64('ts_ms', true),
      i64('ts_us', true),
      i64('ts_ns', true),
    ],
  });
}
