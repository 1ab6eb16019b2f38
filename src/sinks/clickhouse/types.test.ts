import { describe, expect, it } from 'vitest';
import { clickhouseSpec } from './config.js';
import { featuresOf, parseVersion } from './server.js';
import { clickhouseType, inferType, sourceKindOf, unwrapType } from './types.js';

const old = featuresOf('18.16.1');
const modern = featuresOf('24.8.4.13');

describe('server features', () => {
  it('detects features by version', () => {
    expect(parseVersion('18.16.1')).toEqual([18, 16]);
    expect(old).toMatchObject({ dateTime64: false, dedupToken: false, isDeletedColumn: false });
    expect(modern).toMatchObject({ dateTime64: true, dedupToken: true, isDeletedColumn: true });
    expect(featuresOf('22.1.3')).toMatchObject({ dateTime64: true, dedupToken: false, isDeletedColumn: false });
    expect(() => parseVersion('dev')).toThrow(/cannot parse ClickHouse version/);
  });
});

describe('PG → ClickHouse types', () => {
  const t = (pgType: string, nullable = true, f = old, isEnum = false) => clickhouseType({ name: 'c', pgType, nullable, isEnum }, f, 'string');
  it('maps the documented types', () => {
    expect(t('smallint')).toBe('Nullable(Int16)');
    expect(t('integer', false)).toBe('Int32');
    expect(t('bigint')).toBe('Nullable(Int64)');
    expect(t('numeric(12,3)')).toBe('Nullable(Decimal(12, 3))');
    expect(t('numeric')).toBe('Nullable(String)');
    expect(t('numeric(50,2)')).toBe('Nullable(String)');
    expect(t('real')).toBe('Nullable(Float32)');
    expect(t('double precision')).toBe('Nullable(Float64)');
    expect(t('boolean')).toBe('Nullable(UInt8)');
    expect(t('text')).toBe('Nullable(String)');
    expect(t('character varying(20)')).toBe('Nullable(String)');
    expect(t('uuid')).toBe('Nullable(String)');
    expect(t('jsonb')).toBe('Nullable(String)');
    expect(t('mood', true, old, true)).toBe('Nullable(String)');
    expect(t('date')).toBe('Nullable(Date)');
    expect(t('timestamp without time zone')).toBe('Nullable(String)');
    expect(t('timestamp with time zone', true, modern)).toBe("Nullable(DateTime64(6, 'UTC'))");
    // range-limited types: Nullable even for NOT NULL columns (the __raw companion holds what they cannot)
    expect(clickhouseType({ name: 'c', pgType: 'timestamp(3) without time zone', nullable: false }, old, 'datetime')).toBe("Nullable(DateTime('UTC'))");
    expect(t('numeric(12,3)', false)).toBe('Nullable(Decimal(12, 3))');
    expect(t('date', false)).toBe('Nullable(Date)');
    // … never keys (exact text keeps distinct keys distinct), never array elements
    expect(clickhouseType({ name: 'id', pgType: 'date', nullable: false }, old, 'string', true)).toBe('String');
    expect(clickhouseType({ name: 'id', pgType: 'timestamp with time zone', nullable: false }, modern, 'string', true)).toBe('String');
    expect(t('date[]')).toBe('Array(Nullable(String))');
    expect(t('numeric(6,2)[]')).toBe('Array(Nullable(String))');
    expect(t('timestamp without time zone[]', true, modern)).toBe('Array(Nullable(String))');
    expect(t('integer[]')).toBe('Array(Nullable(Int32))');
    expect(t('text[]', false)).toBe('Array(Nullable(String))');
    expect(clickhouseType({ name: 'id', pgType: 'bigint', nullable: true }, old, 'string', true)).toBe('Int64');
  });
  it('infers types from values without a catalog', () => {
    expect(inferType(5, true)).toBe('Int64');
    expect(inferType(5, false)).toBe('Nullable(Float64)');
    expect(inferType('x', false)).toBe('Nullable(String)');
    expect(inferType(true, false)).toBe('Nullable(UInt8)');
    expect(inferType([1], false)).toBe('Array(Nullable(String))');
  });
  it('knows the source kinds that need value conversion', () => {
    expect(sourceKindOf('timestamp(6) without time zone')).toBe('timestamp');
    expect(sourceKindOf('timestamp(3) without time zone')).toBe('timestamp-ms');
    expect(sourceKindOf('timestamp(0) without time zone[]')).toBe('timestamp-ms');
    expect(sourceKindOf('timestamp(3) with time zone')).toBe('timestamptz');
    expect(sourceKindOf('timestamp with time zone[]')).toBe('timestamptz');
    expect(sourceKindOf(undefined)).toBe('other');
    expect(unwrapType('LowCardinality(Nullable(String))')).toEqual({ base: 'String', nullable: true });
  });
});

describe('config spec', () => {
  it('describes every field and applies defaults', () => {
    for (const [name, field] of Object.entries(clickhouseSpec.shape)) expect(field.description, name).toBeTruthy();
    const url = 'http://127.0.0.1:8123';
    const c = clickhouseSpec.parse({ url });
    expect(c).toMatchObject({ url, database: 'default', mode: 'upsert', 'truncate.mode': 'delete', 'table.name.format': '{schema}_{table}' });
    expect(() => clickhouseSpec.parse({ url, databse: 'x' })).toThrow();
    expect(() => clickhouseSpec.parse({ url, database: 'bad-name' })).toThrow(/ClickHouse identifier/);
    // No default server: a config without url must not silently write to a local ClickHouse.
    expect(() => clickhouseSpec.parse({})).toThrow(/url/);
  });
});
