import { describe, expect, it } from 'vitest';
import { builtinType } from './builtin-types.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from './config.js';
import { valueSchema } from './schema.js';
import type { ColumnType } from './types.js';

const o = (x: Partial<ConvertOptions> = {}): ConvertOptions => ({ ...DEFAULT_CONVERT_OPTIONS, ...x });
const s = (name: string, typmod = -1, opts = o()) => valueSchema(builtinType(name), typmod, true, opts);

describe('valueSchema (Kafka Connect field schemas with Debezium semantic names)', () => {
  it('temporal types follow time.precision.mode', () => {
    expect(s('timestamp')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroTimestamp' });
    expect(s('timestamp', 3)).toMatchObject({ type: 'int64', name: 'io.debezium.time.Timestamp' });
    expect(s('timestamptz')).toMatchObject({ type: 'string', name: 'io.debezium.time.ZonedTimestamp' });
    expect(s('date')).toMatchObject({ type: 'int32', name: 'io.debezium.time.Date' });
    expect(s('time')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroTime' });
    expect(s('time', 2)).toMatchObject({ type: 'int32', name: 'io.debezium.time.Time' });
    expect(s('time', 2, o({ 'time.precision.mode': 'adaptive_time_microseconds' }))).toMatchObject({ name: 'io.debezium.time.MicroTime' });
    expect(s('timetz')).toMatchObject({ type: 'string', name: 'io.debezium.time.ZonedTime' });
    expect(s('timestamp', -1, o({ 'time.precision.mode': 'connect' }))).toMatchObject({ type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp' });
    expect(s('interval')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroDuration' });
    expect(s('interval', -1, o({ 'interval.handling.mode': 'string' }))).toMatchObject({ type: 'string', name: 'io.debezium.time.Interval' });
  });
  it('json, uuid, enum, numeric modes, arrays', () => {
    expect(s('jsonb')).toMatchObject({ type: 'string', name: 'io.debezium.data.Json' });
    expect(s('uuid')).toMatchObject({ type: 'string', name: 'io.debezium.data.Uuid' });
    const mood: ColumnType = { oid: 1, name: 'mood', schema: 'public', typmod: -1, category: 'E', kind: 'enum', delimiter: ',', enumLabels: ['a', 'b'] };
    expect(valueSchema(mood, -1, false, o())).toEqual({ type: 'string', optional: false, name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'a,b' } });
    expect(s('numeric')).toEqual({ type: 'string', optional: true });
    expect(s('numeric', ((10 << 16) | 2) + 4, o({ 'decimal.handling.mode': 'precise' }))).toMatchObject({
      type: 'bytes',
      name: 'org.apache.kafka.connect.data.Decimal',
      parameters: { scale: '2', 'connect.decimal.precision': '10' },
    });
    expect(s('numeric', -1, o({ 'decimal.handling.mode': 'precise' }))).toMatchObject({ type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' });
    expect(s('_int4')).toEqual({ type: 'array', optional: true, items: { type: 'int32', optional: true } });
    expect(s('int8', -1, o({ 'bigint.handling.mode': 'string' }))).toEqual({ type: 'string', optional: true });
  });
});
