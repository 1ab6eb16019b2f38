/**
 * Redis sink against the real Redis (db 11, a unique key prefix per run): the shared conformance
 * suite in write-through mode (and its protocol checks in invalidate mode), plus invalidation of
 * every templated key incl. old-value keys, PK updates, deletes, truncate, publish, replays and
 * out-of-order events in write-through.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec, type RedisSinkConfig } from '../../src/sinks/redis/spec.js';
import { versionString } from '../../src/sinks/kit/index.js';
import { redisDbUrl, redisSinkInput } from '../support/redis-config.js';
import type { SinkRecord } from '../../src/sinks/sink.js';
import { nextOffset, pos, sinkBatch, sinkRecord, type ChangeSpec } from '../support/records.js';
import { CONFORMANCE, describeSinkConformance } from './conformance.js';

const DB = 11;
const run = randomUUID().slice(0, 8);
const P = `rt-${run}:`;
const url = endpoints().redisUrl;
const admin = new Redis(redisDbUrl(url, DB), { lazyConnect: false });

async function deleteMatching(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await admin.unlink(...keys);
  } while (cursor !== '0');
}

function makeConfig(tables: Record<string, unknown>, extra: Record<string, unknown> = {}): RedisSinkConfig {
  return redisSinkSpec.parse(redisSinkInput(url, DB, tables, extra));
}

afterAll(async () => {
  await deleteMatching(`${P}*`);
  await deleteMatching(`cdc:ver:${P}*`);
  await deleteMatching(`cdc:ver@*${P}*`);
  await deleteMatching(`g7-${run}:*`);
  await admin.quit();
});

/**
 * `ns`: the sink runs in a rebuilt generation — its pointer key (`generation.key`) names `ns`, so
 * rows live at `<ns>:<key>` and versions at `cdc:ver@<ns>:<key>` (docs/rebuild.md, Redis).
 */
function conformanceHarness(mode: 'write-through' | 'invalidate', ns?: string) {
  return async () => {
    const variant = ns ? `${mode}-ns` : mode;
    const offsetsKey = `${P}offsets:${variant}`;
    const keyPrefix = `${P}${variant}:item:`;
    const pointer = `${P}generation:${variant}`;
    const stored = ns ? `${ns}:${keyPrefix}` : keyPrefix;
    const own = redisSinkInput(url, DB, { [`${CONFORMANCE.schema}.${CONFORMANCE.table}`]: { keys: [`${keyPrefix}{id}`], mode } }, { 'truncate.mode': 'delete', 'offsets.key': offsetsKey, 'generation.key': pointer });
    const config = redisSinkSpec.parse(own);
    if (ns) await admin.set(pointer, ns);
    // the namespace the plugin gives the kill -9 child's sink (its group id): the same sink, in or out of process
    const newSink = () => new RedisSink(config, offsetsKey, silentLogger, `cdc-fanout.conf.redis-${variant}`);
    const sink = newSink();
    await sink.open();
    return {
      sink,
      newSink,
      child: { type: 'redis', config: own, pipeline: 'conf', sinkName: `redis-${variant}` },
      async readState(): Promise<Map<string, Row | null>> {
        const out = new Map<string, Row | null>();
        let cursor = '0';
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', `${stored}*`, 'COUNT', 1000);
          cursor = next;
          for (const k of keys) {
            const v = await admin.get(k);
            out.set(JSON.stringify({ id: Number(k.slice(stored.length)) }), v === null ? null : (JSON.parse(v) as Row));
          }
        } while (cursor !== '0');
        return out;
      },
      async reset() {
        await deleteMatching(`${stored}*`);
        await deleteMatching(`cdc:ver@*:${keyPrefix}*`);
        await admin.unlink(offsetsKey);
      },
    };
  };
}

describeSinkConformance('redis (write-through)', conformanceHarness('write-through'), { truncate: 'delete', detectsRegression: true });
describeSinkConformance('redis (invalidate)', conformanceHarness('invalidate'), { state: false, detectsRegression: true });
// The same guarantees for a sink whose rows live in a generation namespace behind its pointer key.
describeSinkConformance('redis (write-through, generation namespace)', conformanceHarness('write-through', `g7-${run}`), { truncate: 'delete', detectsRegression: true });

describe('redis sink: invalidation', () => {
  const offsetsKey = `${P}offsets:inv`;
  const users = 'public.users';
  const config = makeConfig(
    {
      [users]: { keys: [`${P}user:{id}`, `${P}user:email:{email}`, `${P}org:{org_id}:members`] },
      'public.posts': { keys: [`${P}post:{id}`], mode: 'publish', 'publish.channel': `${P}chan` },
    },
    { 'truncate.mode': 'delete' },
  );
  let sink: RedisSink;
  let offset = 0;
  const u = (spec: Omit<ChangeSpec, 'table'>): SinkRecord => sinkRecord({ ...spec, table: 'users' });

  async function apply(records: SinkRecord[]): Promise<void> {
    const batch = sinkBatch(records, { partition: 0, firstOffset: offset });
    const r = await sink.write(batch);
    expect(r.rejected).toEqual([]);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
    offset = Number(nextOffset(batch));
  }
  const exists = async (...keys: string[]): Promise<boolean[]> => Promise.all(keys.map(async (k) => (await admin.exists(`${P}${k}`)) === 1));
  async function seed(...keys: string[]): Promise<void> {
    for (const k of keys) await admin.set(`${P}${k}`, 'cached');
  }

  beforeAll(async () => {
    sink = new RedisSink(config, offsetsKey, silentLogger);
    await sink.open();
  });
  afterAll(async () => sink.close());
  beforeEach(async () => {
    await deleteMatching(`${P}user*`);
    await deleteMatching(`${P}org*`);
    await deleteMatching(`${P}post*`);
  });

  it('invalidates every templated key of the new AND the old row on update, and stores offsets in the same transaction', async () => {
    await seed('user:1', 'user:email:old@x', 'user:email:new@x', 'org:7:members', 'org:8:members', 'user:2', 'user:email:b@x');
    await apply([
      u({
        op: 'u',
        before: { id: 1, email: 'old@x', org_id: 7 },
        after: { id: 1, email: 'new@x', org_id: 8 },
        position: pos(100),
      }),
    ]);
    expect(await exists('user:1', 'user:email:old@x', 'user:email:new@x', 'org:7:members', 'org:8:members')).toEqual([false, false, false, false, false]);
    expect(await exists('user:2', 'user:email:b@x')).toEqual([true, true]);
    expect(await admin.hget(offsetsKey, 'test.public.users:0')).toBe(String(offset));
  });

  it('without a full before image still invalidates the key-column keys and the new-value keys', async () => {
    await seed('user:3', 'user:email:c@x', 'org:9:members');
    await apply([u({ op: 'u', before: null, after: { id: 3, email: 'c@x', org_id: 9 }, position: pos(110) })]);
    expect(await exists('user:3', 'user:email:c@x', 'org:9:members')).toEqual([false, false, false]);
  });

  it('invalidates on delete (from the before image) and on PK update (old and new key)', async () => {
    await seed('user:4', 'user:email:d@x', 'user:40', 'org:1:members');
    await apply([
      u({ op: 'd', before: { id: 4, email: 'd@x', org_id: 1 }, after: null, position: pos(120, 0) }),
      u({ op: 'c', after: { id: 40, email: 'd@x', org_id: 1 }, position: pos(120, 1) }),
    ]);
    expect(await exists('user:4', 'user:email:d@x', 'user:40', 'org:1:members')).toEqual([false, false, false, false]);
  });

  it('invalidates by prefix on truncate (truncate.mode delete) and leaves other tables alone', async () => {
    await seed('user:5', 'user:6', 'user:email:e@x', 'org:2:members', 'post:1');
    await apply([u({ op: 't', before: null, after: null, key: null, position: pos(130) })]);
    expect(await exists('user:5', 'user:6', 'user:email:e@x', 'org:2:members', 'post:1')).toEqual([false, false, false, false, true]);
  });

  it('ignores truncate with truncate.mode=ignore', async () => {
    const ignoring = new RedisSink(makeConfig({ [users]: { keys: [`${P}user:{id}`] } }), `${P}offsets:ign`, silentLogger);
    await ignoring.open();
    await seed('user:5');
    const batch = sinkBatch([u({ op: 't', before: null, after: null, key: null, position: pos(130) })]);
    await ignoring.write(batch);
    await ignoring.commit([{ topic: batch.topic, partition: 0, offset: '1' }]);
    await ignoring.close();
    expect(await exists('user:5')).toEqual([true]);
    await admin.unlink(`${P}offsets:ign`);
  });

  it('publishes the invalidated keys in publish mode', async () => {
    const sub = new Redis(redisDbUrl(url, DB));
    const got: string[] = [];
    await sub.subscribe(`${P}chan`);
    sub.on('message', (_c: string, m: string) => got.push(m));
    await seed('post:1');
    const batch = sinkBatch([sinkRecord({ table: 'posts', op: 'u', before: { id: 1 }, after: { id: 1, title: 'x' }, position: pos(140) })]);
    await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: '1' }]);
    await new Promise((r) => setTimeout(r, 200));
    await sub.quit();
    expect(await exists('post:1')).toEqual([false]);
    expect(got.map((m) => JSON.parse(m) as unknown)).toEqual([{ table: 'public.posts', keys: [`${P}post:1`] }]);
  });

  it('does not re-execute a batch whose offsets are already stored (lost EXEC reply, or a second process)', async () => {
    await apply([u({ op: 'c', after: { id: 8, email: 'h@x', org_id: 1 }, position: pos(150) })]);
    await seed('user:8');
    // replay the same offsets: must be a no-op, so the freshly cached value stays
    const batch = sinkBatch([u({ op: 'c', after: { id: 8, email: 'h@x', org_id: 1 }, position: pos(150) })], { firstOffset: offset - 1 });
    await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: String(offset) }]);
    expect(await exists('user:8')).toEqual([true]);
  });

  it('rejects template syntax errors and unknown columns with the table and column named', () => {
    const bad = redisSinkSpec.safeParse(redisSinkInput('redis://127.0.0.1:6379', undefined, { 'public.users': { keys: ['user:{id'] } }));
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('table public.users');
    expect(JSON.stringify(bad.error?.issues)).toContain('never closed');
  });
});

describe('redis sink: write-through ordering', () => {
  const config = makeConfig({ 'public.items': { keys: [`${P}wt:{id}`, `${P}wt:sku:{sku}`], mode: 'write-through', 'ttl.ms': 60_000 } });
  let sink: RedisSink;
  let offset = 0;
  const it_ = (spec: Omit<ChangeSpec, 'table'>): SinkRecord => sinkRecord({ ...spec, table: 'items' });
  async function apply(records: SinkRecord[]): Promise<number> {
    const batch = sinkBatch(records, { firstOffset: offset });
    const r = await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
    offset = Number(nextOffset(batch));
    return r.staleSkipped;
  }
  const get = async (k: string): Promise<unknown> => {
    const v = await admin.get(`${P}${k}`);
    return v === null ? null : JSON.parse(v);
  };

  beforeAll(async () => {
    sink = new RedisSink(config, `${P}offsets:wt`, silentLogger, `${P}ns`);
    await sink.open();
  });
  afterAll(async () => sink.close());

  it('writes the row at write.key with a TTL, invalidates the other keys, and never goes backwards under shuffled replays', async () => {
    await admin.set(`${P}wt:sku:A`, 'cached');
    const history = [1, 2, 3, 4, 5, 6, 7, 8].map((v) => it_({ op: 'u', before: { id: 1 }, after: { id: 1, sku: 'A', v }, position: pos(1000 + v * 10, v % 3) }));
    await apply(history.slice(0, 4));
    expect(await get('wt:1')).toEqual({ id: 1, sku: 'A', v: 4 });
    expect(await admin.exists(`${P}wt:sku:A`)).toBe(0);
    expect(await admin.pttl(`${P}wt:1`)).toBeGreaterThan(50_000);
    await apply(history.slice(4));
    // replays and out-of-order duplicates, in random order, many times
    let stale = 0;
    for (let round = 0; round < 5; round++) {
      const shuffled = [...history].sort(() => Math.random() - 0.5);
      stale += await apply(shuffled);
      expect(await get('wt:1')).toEqual({ id: 1, sku: 'A', v: 8 });
    }
    expect(stale).toBe(5 * 8);
  });

  it('a delete leaves a version marker so a late older write cannot resurrect the row', async () => {
    await apply([it_({ op: 'c', after: { id: 2, sku: 'B' }, position: pos(5000) })]);
    await apply([it_({ op: 'd', before: { id: 2, sku: 'B' }, after: null, position: pos(6000) })]);
    expect(await get('wt:2')).toBeNull();
    const marker = await admin.get(`cdc:ver@${P}ns:${P}wt:2`);
    expect(marker).toMatch(/^0+6000:0+$/);
    expect(await admin.pttl(`cdc:ver@${P}ns:${P}wt:2`)).toBeGreaterThan(0);
    expect(await apply([it_({ op: 'u', before: { id: 2 }, after: { id: 2, sku: 'zombie' }, position: pos(5500) })])).toBe(1);
    expect(await get('wt:2')).toBeNull();
  });

  it('keeps the staleness protection of version keys written before the namespace (cdc:ver:<key>) and moves them on the next write', async () => {
    // as an earlier release left them: the row at version 8000 and its un-namespaced version key
    await admin.set(`${P}wt:3`, JSON.stringify({ id: 3, sku: 'C', v: 'old release' }));
    await admin.set(`cdc:ver:${P}wt:3`, versionString(pos(8000)));
    await admin.set(`${P}wt:4`, JSON.stringify({ id: 4, sku: 'D' }));
    await admin.set(`cdc:ver:${P}wt:4`, versionString(pos(8000)));
    // older than the legacy version: refused (stale), write and delete alike
    expect(await apply([it_({ op: 'u', before: { id: 3 }, after: { id: 3, sku: 'C', v: 'older' }, position: pos(7000) })])).toBe(1);
    expect(await apply([it_({ op: 'd', before: { id: 4, sku: 'D' }, after: null, position: pos(7000) })])).toBe(1);
    expect(await get('wt:3')).toEqual({ id: 3, sku: 'C', v: 'old release' });
    expect(await get('wt:4')).toEqual({ id: 4, sku: 'D' });
    expect(await admin.exists(`cdc:ver@${P}ns:${P}wt:3`)).toBe(0);
    // newer: applied, and the version moves to the namespaced key
    await apply([it_({ op: 'u', before: { id: 3 }, after: { id: 3, sku: 'C', v: 'newer' }, position: pos(9000) })]);
    expect(await get('wt:3')).toEqual({ id: 3, sku: 'C', v: 'newer' });
    expect(await admin.get(`cdc:ver@${P}ns:${P}wt:3`)).toBe(versionString(pos(9000)));
    expect(await admin.exists(`cdc:ver:${P}wt:3`)).toBe(0);
  });
});
