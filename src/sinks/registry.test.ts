import { describe, expect, it } from 'vitest';
import { loadSinkPlugin, sinkTypes } from './registry.js';

describe('sink registry', () => {
  it('loads the redis plugin lazily', async () => {
    const p = await loadSinkPlugin('redis');
    expect(p.type).toBe('redis');
    expect(p.spec.shape).toHaveProperty('tables');
  });
  it('lists the known types for an unknown one', async () => {
    await expect(loadSinkPlugin('mongo')).rejects.toThrow('unknown sink type "mongo"; known types: elasticsearch, clickhouse, redis, webhook');
    expect(sinkTypes).toEqual(['elasticsearch', 'clickhouse', 'redis', 'webhook']);
  });
});
