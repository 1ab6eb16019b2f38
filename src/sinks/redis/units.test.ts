import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UNAVAILABLE_VALUE, type Row } from '../../events/change.js';
import type { SinkRecord } from '../sink.js';
import { compileTables, planRecords } from './plan.js';
import { redisSinkSpec, redisTableSpec } from './spec.js';
import { parseTemplate, renderKey, validateTemplates } from './templates.js';

const rec = (op: SinkRecord['op'], before: Row | null, after: Row | null, key: Row | null = { id: (after ?? before)?.id ?? null }): SinkRecord => ({
  topic: 't',
  partition: 0,
  offset: '0',
  key,
  op,
  before,
  after,
  source: { schema: 'public', table: 'users' },
  position: { commitLsn: 300n, seq: 2 },
  raw: { key: null, value: null },
});

describe('key templates', () => {
  it('renders placeholders, literal braces, and skips NULL / TOAST values', () => {
    const t = parseTemplate('u:{{x}}:{id}:{email}');
    expect(t.prefix).toBe('u:{x}:');
    expect(renderKey(t, { id: 1, email: 'a@b' })).toBe('u:{x}:1:a@b');
    expect(renderKey(t, { id: 1, email: null })).toBeNull();
    expect(renderKey(t, { id: 1, email: UNAVAILABLE_VALUE })).toBeNull();
  });
  it('names the problem: unclosed brace, bad column name, no placeholder, unknown column', () => {
    expect(() => parseTemplate('user:{id')).toThrow(/never closed/);
    expect(() => parseTemplate('user:{a b}')).toThrow(/not a column name/);
    expect(() => parseTemplate('user:all')).toThrow(/no \{column\} placeholder/);
    expect(validateTemplates('public.users', ['user:{emial}'], ['id', 'email'])).toEqual([
      'table public.users: key template "user:{emial}" uses unknown column "emial"; did you mean "email"? (columns: id, email)',
    ]);
  });
});

describe('redis spec', () => {
  it('describes every field', () => {
    for (const spec of [redisSinkSpec, redisTableSpec]) {
      for (const [name, field] of Object.entries(spec.shape)) expect((field as z.ZodType).description, name).toBeTruthy();
    }
  });
  it('refuses delete truncates for templates without a literal prefix', () => {
    const r = redisSinkSpec.safeParse({ url: 'redis://h:6379', 'truncate.mode': 'delete', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['{id}:user'] } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('starts with a placeholder');
  });
});

describe('planRecords', () => {
  const tables = compileTables(redisSinkSpec.parse({ url: 'redis://h:6379', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['user:{id}', 'user:email:{email}'] } } }));
  it('invalidates keys of both images, deduplicated', () => {
    const plan = planRecords([rec('u', { id: 1, email: 'old' }, { id: 1, email: 'new' }), rec('u', null, { id: 1, email: 'new' })], tables, 'ignore', 'ns');
    expect(plan.ops.map((o) => o.kind === 'unlink' && o.key)).toEqual(['user:1', 'user:email:old', 'user:email:new', 'user:1', 'user:email:new']);
  });
  it('uses the record key when before is null (delete without REPLICA IDENTITY FULL)', () => {
    const plan = planRecords([rec('d', null, null, { id: 9 })], tables, 'ignore', 'ns');
    expect(plan.ops.map((o) => o.kind === 'unlink' && o.key)).toEqual(['user:9']);
  });
  it('ignores tombstones and unknown tables; truncates only with delete', () => {
    const other = { ...rec('c', null, { id: 1 }), source: { schema: 'public', table: 'other' } };
    expect(planRecords([rec(null, null, null), other], tables, 'ignore', 'ns').ops).toEqual([]);
    expect(planRecords([rec('t', null, null, null)], tables, 'ignore', 'ns').ops).toEqual([]);
    expect(planRecords([rec('t', null, null, null)], tables, 'delete', 'ns').ops).toEqual([{ kind: 'truncate', table: 'public.users', version: '00000000000000000300:0000000002', prefixes: ['user:', 'user:email:'], valuePrefix: null, channel: null }]);
  });
  it('write-through truncates: the write key\'s prefix apart from the invalidation templates\' (rows live in a generation namespace)', () => {
    const wt = compileTables(redisSinkSpec.parse({ url: 'redis://h:6379', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['user:{id}', 'user:email:{email}'], mode: 'write-through' } } }));
    expect(planRecords([rec('t', null, null, null)], wt, 'delete', 'ns').ops).toEqual([{ kind: 'truncate', table: 'public.users', version: '00000000000000000300:0000000002', prefixes: ['user:email:'], valuePrefix: 'user:', channel: null }]);
  });
  it('write-through: writes the row with TOAST sentinels and a fixed-width version', () => {
    const wt = compileTables(redisSinkSpec.parse({ url: 'redis://h:6379', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['user:{id}', 'user:email:{email}'], mode: 'write-through' } } }));
    const plan = planRecords([rec('u', { id: 1, email: 'old' }, { id: 1, email: 'new', bio: UNAVAILABLE_VALUE })], wt, 'ignore', 'ns');
    expect(plan.ops).toEqual([
      { kind: 'write', table: 'public.users', key: 'user:1', verKey: 'cdc:ver@ns:user:1', version: '00000000000000000300:0000000002', json: '{"id":1,"email":"new","bio":"\\u0000cdc-toast:0"}', toastColumns: ['bio'], ttlMs: 0 },
      { kind: 'unlink', key: 'user:email:old', table: 'public.users', channel: null },
      { kind: 'unlink', key: 'user:email:new', table: 'public.users', channel: null },
    ]);
  });
  it('write-through: treats the bytea (base64, hex) and array shapes of the TOAST placeholder as unchanged too, never caching them as data', () => {
    const wt = compileTables(redisSinkSpec.parse({ url: 'redis://h:6379', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['user:{id}'], mode: 'write-through' } } }));
    const after = { id: 1, pic: Buffer.from(UNAVAILABLE_VALUE).toString('base64'), raw: Buffer.from(UNAVAILABLE_VALUE).toString('hex'), tags: [UNAVAILABLE_VALUE], name: 'n' };
    const [write] = planRecords([rec('u', null, after)], wt, 'ignore', 'ns').ops;
    expect(write).toMatchObject({ kind: 'write', toastColumns: ['pic', 'raw', 'tags'], json: '{"id":1,"pic":"\\u0000cdc-toast:0","raw":"\\u0000cdc-toast:1","tags":"\\u0000cdc-toast:2","name":"n"}' });
  });
});

describe('write-through row shapes (ADD/DROP/RENAME COLUMN)', () => {
  const config = redisSinkSpec.parse({ url: 'redis://localhost:6379/0', tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['u:{id}'], mode: 'write-through' } } });
  const tables = compileTables(config);
  const at = (r: SinkRecord, commitLsn: bigint, seq: number): SinkRecord => ({ ...r, position: { commitLsn, seq } });
  const kinds = (ops: readonly { kind: string; version?: string }[]): string[] => ops.map((o) => (o.kind === 'truncate' ? `truncate@${o.version}` : o.kind));
  const v = (lsn: bigint, seq: number): string => `${lsn.toString().padStart(20, '0')}:${String(seq).padStart(10, '0')}`;

  it('first sight stores the shape; a newer shape invalidates the keys older than its transaction; a re-planned batch invalidates again; an older shape is not cached', () => {
    const shapes = new Map();
    expect(kinds(planRecords([at(rec('c', null, { id: 1, a: 'x' }), 100n, 0)], tables, 'ignore', 'ns', shapes).ops)).toEqual(['shape', 'write']);
    expect(kinds(planRecords([at(rec('c', null, { id: 2, a: 'y' }), 150n, 0)], tables, 'ignore', 'ns', shapes).ops)).toEqual(['write']);
    const renamed = [at(rec('u', null, { id: 1, b: 'x' }), 300n, 2)];
    expect(kinds(planRecords(renamed, tables, 'ignore', 'ns', shapes).ops)).toEqual([`truncate@${v(300n, 0)}`, 'shape', 'write']);
    // the same batch planned again (a retried write replaces its queued plan): the invalidation is in it again
    expect(kinds(planRecords(renamed, tables, 'ignore', 'ns', shapes).ops)).toEqual([`truncate@${v(300n, 0)}`, 'shape', 'write']);
    // a later change in the new shape: nothing more
    expect(kinds(planRecords([at(rec('u', null, { id: 2, b: 'z' }), 400n, 0)], tables, 'ignore', 'ns', shapes).ops)).toEqual(['write']);
    // an older change in the old shape (a lagging partition, or the ALTER's own transaction): its key is unlinked, not written
    expect(kinds(planRecords([at(rec('c', null, { id: 3, a: 'old' }), 300n, 1)], tables, 'ignore', 'ns', shapes).ops)).toEqual(['unlink']);
  });

  it('a first sight in the new shape followed by an older change in the old shape invalidates at the newer one', () => {
    const shapes = new Map();
    expect(kinds(planRecords([at(rec('c', null, { id: 1, b: 'x' }), 500n, 3)], tables, 'ignore', 'ns', shapes).ops)).toEqual(['shape', 'write']);
    expect(kinds(planRecords([at(rec('c', null, { id: 2, a: 'y' }), 200n, 0)], tables, 'ignore', 'ns', shapes).ops)).toEqual([`truncate@${v(500n, 0)}`, 'shape', 'unlink']);
  });
});
