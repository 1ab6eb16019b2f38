import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HEADERS } from '../../events/change.js';
import { backoffDelay } from './backoff.js';
import { resolveSinkConfig, sinkCommonSpec } from './config.js';
import { decodeMessage } from './decode.js';

describe('backoffDelay', () => {
  const cfg = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
  it('doubles from the initial value up to the max', () => {
    const mid = (): number => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, cfg, mid))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('spreads by ±jitter and never exceeds the max', () => {
    expect(backoffDelay(1, cfg, () => 0)).toBe(50);
    expect(backoffDelay(1, cfg, () => 1)).toBe(150);
    expect(backoffDelay(10, cfg, () => 1)).toBe(1000);
  });
});

describe('sink common config', () => {
  it('describes every field', () => {
    for (const [name, field] of Object.entries(sinkCommonSpec.shape)) expect((field as z.ZodType).description, name).toBeTruthy();
  });
  it('derives topics from tables, the group id and the DLQ topic', () => {
    const c = resolveSinkConfig(sinkCommonSpec.parse({ name: 's1', type: 'redis', tables: ['public.users'] }), { pipeline: 'pg', topicPrefix: 'app' });
    expect(c.topicList).toEqual(['app.public.users']);
    expect(c.groupId).toBe('cdc-fanout.pg.s1');
    expect(c.dlqTopic).toBe('app.dlq.s1');
  });
  it('says what to set when neither topics nor tables is given', () => {
    expect(() => resolveSinkConfig(sinkCommonSpec.parse({ name: 's1', type: 'redis' }), { pipeline: 'pg', topicPrefix: 'app' })).toThrow(/set "topics".*or "tables"/);
  });
  it('rejects a table without a schema, with the expected format', () => {
    const r = sinkCommonSpec.safeParse({ name: 's', type: 'redis', tables: ['users'] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('schema.table');
  });
});

describe('decodeMessage', () => {
  const env = { before: null, after: { id: 1 }, source: { schema: 'public', table: 't', ts_ms: 5 }, op: 'c' };
  const headers = { [HEADERS.commitLsn]: Buffer.from('18446744073709551615'), [HEADERS.seq]: Buffer.from('3') };
  it('decodes key, envelope and the position headers (full 64-bit LSN)', () => {
    const r = decodeMessage('tp', 2, { key: Buffer.from('{"id":1}'), value: Buffer.from(JSON.stringify(env)), offset: '7', headers });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.record).toMatchObject({ topic: 'tp', partition: 2, offset: '7', key: { id: 1 }, op: 'c', after: { id: 1 }, position: { commitLsn: 18446744073709551615n, seq: 3 } });
  });
  it('unwraps the JsonConverter {schema, payload} form in key and value', () => {
    const r = decodeMessage('tp', 0, { key: Buffer.from('{"schema":{},"payload":{"id":1}}'), value: Buffer.from(JSON.stringify({ schema: {}, payload: env })), offset: '0', headers });
    expect(r.ok && r.record.key).toEqual({ id: 1 });
    expect(r.ok && r.record.op).toBe('c');
  });
  it('turns a null value into a tombstone', () => {
    const r = decodeMessage('tp', 0, { key: Buffer.from('{"id":1}'), value: null, offset: '0', headers });
    expect(r.ok && r.record.op).toBeNull();
  });
  it('rejects bad JSON, a bad op and a bad header with a message, keeping the raw bytes', () => {
    const bad = decodeMessage('tp', 0, { key: null, value: Buffer.from('{x'), offset: '4' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.rejected.error.message).toMatch(/value is not JSON/);
      expect(bad.rejected.record.raw.value?.toString()).toBe('{x');
      expect(bad.rejected.record.offset).toBe('4');
    }
    const op = decodeMessage('tp', 0, { key: null, value: Buffer.from(JSON.stringify({ ...env, op: 'z' })), offset: '0' });
    expect(!op.ok && op.rejected.error.message).toMatch(/"op" must be one of/);
    const h = decodeMessage('tp', 0, { key: null, value: Buffer.from(JSON.stringify(env)), offset: '0', headers: { [HEADERS.commitLsn]: '0/16B' } });
    expect(!h.ok && h.rejected.error.message).toMatch(/cdc.commit_lsn must be a decimal LSN/);
  });
});
