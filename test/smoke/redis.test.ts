/** Smoke: ioredis against the stack's Redis — MULTI/EXEC applies all commands atomically. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';

const prefix = `smoke:redis:${randomUUID().slice(0, 8)}`;
const redis = new Redis(endpoints().redisUrl, { lazyConnect: true });

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('redis (ioredis)', () => {
  it('applies a MULTI/EXEC transaction as a whole', async () => {
    await redis.connect();
    await redis.set(`${prefix}:doc`, 'cached');
    const results = await redis.multi().del(`${prefix}:doc`).hset(`${prefix}:offsets`, 'topic-0', '42').hget(`${prefix}:offsets`, 'topic-0').exec();
    expect(results).toEqual([
      [null, 1],
      [null, 1],
      [null, '42'],
    ]);
    expect(await redis.exists(`${prefix}:doc`)).toBe(0);
  });

  it('discards a transaction whose WATCHed key changed', async () => {
    const watcher = redis.duplicate();
    await redis.set(`${prefix}:watched`, 'v1');
    await watcher.watch(`${prefix}:watched`);
    await redis.set(`${prefix}:watched`, 'v2');
    const results = await watcher.multi().set(`${prefix}:watched`, 'from-tx').exec();
    watcher.disconnect();
    expect(results).toBeNull();
    expect(await redis.get(`${prefix}:watched`)).toBe('v2');
  });
});
