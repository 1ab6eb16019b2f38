/**
 * Regression (issue 14): the write-through TOAST merge must copy the stored row's other values as
 * exact JSON text. It used to decode and re-encode the stored JSON through Lua cjson, which keeps 14
 * significant digits (0.1 + 0.2 → 0.3, 9007199254740993 → 9.007199254741e+15), turns [] into {} and
 * re-escapes "/" — all silently. Real Redis (db 11, unique key prefix).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { redisDbUrl, redisSinkInput } from '../support/redis-config.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';

const DB = 11;
const P = `rtx-${randomUUID().slice(0, 8)}:`;
const url = endpoints().redisUrl;
const admin = new Redis(redisDbUrl(url, DB));

afterAll(async () => {
  const keys = [...(await admin.keys(`${P}*`)), ...(await admin.keys(`cdc:ver@*${P}*`))];
  if (keys.length) await admin.unlink(...keys);
  await admin.quit();
});

describe('redis write-through TOAST merge keeps stored values byte for byte', () => {
  it('numbers beyond 14 digits, empty arrays, escapes and unicode survive the merge', async () => {
    const config = redisSinkSpec.parse(redisSinkInput(url, DB, { 'public.items': { keys: [`${P}item:{id}`], mode: 'write-through' } }));
    const sink = new RedisSink(config, `${P}offsets`, silentLogger);
    await sink.open();
    try {
      const first: Row = {
        id: 1,
        name: 'a',
        f: 0.30000000000000004,
        big: 9007199254740991,
        tiny: 5e-324,
        arr: [],
        obj: { 'k"}': [1.0000000000000002, null, { x: [] }] },
        s: 'a/b "q" \\ é 𝄞 \u0001',
        big_s: '123456789012345678901234567890.123456789',
        bio: 'long',
      };
      const apply = async (records: ReturnType<typeof sinkRecord>[], firstOffset: number): Promise<void> => {
        const batch = sinkBatch(records, { firstOffset });
        const res = await sink.write(batch);
        expect(res.rejected).toEqual([]);
        await sink.commit([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(batch) }]);
      };
      await apply([sinkRecord({ table: 'items', op: 'c', after: first, position: pos(100) })], 0);
      const stored1 = await admin.get(`${P}item:1`);
      expect(stored1).toBe(JSON.stringify(first));
      // every column but name is an unchanged TOAST value
      const toasted: Row = Object.fromEntries(Object.keys(first).map((k) => [k, k === 'id' ? 1 : k === 'name' ? 'b' : UNAVAILABLE_VALUE]));
      await apply([sinkRecord({ table: 'items', op: 'u', after: toasted, position: pos(200) })], 1);
      const stored2 = await admin.get(`${P}item:1`);
      expect(stored2).toBe(JSON.stringify({ ...first, name: 'b' }));
      // a placeholder for a column the stored row does not have → the key is invalidated, never cached wrong
      await apply([sinkRecord({ table: 'items', op: 'u', after: { ...first, name: 'c', added: UNAVAILABLE_VALUE }, position: pos(300) })], 2);
      expect(await admin.get(`${P}item:1`)).toBeNull();
    } finally {
      await sink.close();
    }
  });
});
