import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../sink.js';
import { chunkBodies, classifyItem, explainMappingRejection, serializeOp } from './bulk.js';
import type { DocOp } from './plan.js';

const record = {} as SinkRecord;
const indexOp = (id: string, version: bigint, doc = { id }): DocOp => ({
  kind: 'index',
  index: 'i',
  id,
  version,
  built: { doc, placeholders: [] },
  fillFrom: id,
  doc,
  record,
});

describe('bulk bodies', () => {
  it('writes versions as exact integers, beyond 2^53 too', () => {
    const big = (1n << 62n) + 1n;
    const text = serializeOp(indexOp('1', big));
    expect(text).toContain(`"version":${big.toString()},"version_type":"external_gte"`);
    expect(text.split('\n')).toHaveLength(3);
    expect(JSON.parse(text.split('\n')[1] ?? '')).toEqual({ id: '1' });
    expect(serializeOp({ kind: 'delete', index: 'i', id: 'a"b', version: 7n, record })).toBe(
      '{"delete":{"_index":"i","_id":"a\\"b","version":7,"version_type":"external_gte"}}\n',
    );
  });
  it('splits by bytes, keeping order, an oversized op alone', () => {
    const ops = [indexOp('1', 1n), indexOp('2', 1n, { id: 'x'.repeat(500) }), indexOp('3', 1n)];
    const chunks = chunkBodies(ops, 200);
    expect(chunks.map((c) => c.ops.map((o) => o.id))).toEqual([['1'], ['2'], ['3']]);
    expect(chunkBodies(ops, 10_000)).toHaveLength(1);
  });
});

describe('bulk item outcomes', () => {
  it('classifies statuses', () => {
    expect(classifyItem('index', { status: 201 }).kind).toBe('ok');
    expect(classifyItem('delete', { status: 404 }).kind).toBe('ok');
    expect(classifyItem('index', { status: 409, error: { type: 'version_conflict_engine_exception' } }).kind).toBe('stale');
    expect(classifyItem('index', { status: 429, error: { type: 'es_rejected_execution_exception' } }).kind).toBe('retriable');
    expect(classifyItem('index', { status: 503, error: { type: 'unavailable_shards_exception' } }).kind).toBe('retriable');
    const poison = classifyItem('index', { status: 400, error: { type: 'document_parsing_exception', reason: 'failed to parse field [n]', caused_by: { type: 'illegal_argument_exception', reason: 'x' } } });
    expect(poison).toEqual({ kind: 'rejected', message: expect.stringContaining('document_parsing_exception: failed to parse field [n] (caused by illegal_argument_exception: x)') });
    expect(classifyItem('index', undefined).kind).toBe('retriable');
    // A missing index (a rebuild's swap in progress) is retried, for writes and deletes alike.
    const missing = { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index [x]' } };
    expect(classifyItem('index', missing)).toEqual({ kind: 'retriable', message: expect.stringContaining('the index is missing') });
    expect(classifyItem('delete', missing).kind).toBe('retriable');
  });
});

describe('mapping rejections', () => {
  it('name the table, the field, its mapped type and the remedy', () => {
    const result = {
      status: 400,
      error: { type: 'document_parsing_exception', reason: "[1:30] failed to parse field [n] of type [integer] in document with id '3'. Preview of field's value: 'abc'", caused_by: { type: 'number_format_exception', reason: 'For input string: "abc"' } },
    };
    const text = explainMappingRejection(result, 'p.public.t', 'public.t');
    expect(text).toContain(`table public.t, column (field) "n": index p.public.t maps it as integer and cannot index the value 'abc'`);
    expect(text).toContain(`Remedy: either keep the field's type and let it skip values it cannot parse (PUT p.public.t/_mapping {"properties":{"n":{"type":"integer","ignore_malformed":true}}}`);
    expect(text).toContain('or give the field a mapping that accepts the new values');
    expect(explainMappingRejection({ status: 400, error: { type: 'illegal_argument_exception', reason: 'x' } }, 'i', 'public.t')).toBeNull();
  });
});
