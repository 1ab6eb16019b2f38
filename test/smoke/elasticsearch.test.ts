/** Smoke: the official @elastic/elasticsearch client against the stack's Elasticsearch — info, index, get, bulk. */
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';

const index = `smoke-es-${randomUUID().slice(0, 8)}`;
const client = new Client({ node: endpoints().elasticsearchUrl });

afterAll(async () => {
  await client.indices.delete({ index }, { ignore: [404] });
  await client.close();
});

describe('elasticsearch (@elastic/elasticsearch)', () => {
  it('passes the client product check and reports an 8.x server', async () => {
    const info = await client.info();
    expect(info.version.number).toMatch(/^8\./);
    expect(await client.ping()).toBe(true);
  });

  it('indexes, gets, and bulk-writes with external versions', async () => {
    await client.index({ index, id: '1', document: { name: 'one' }, refresh: true });
    const got = await client.get<{ name: string }>({ index, id: '1' });
    expect(got._source).toEqual({ name: 'one' });

    const bulk = await client.bulk({
      refresh: true,
      operations: [
        { index: { _index: index, _id: '2', version: 5, version_type: 'external_gte' } },
        { name: 'two-v5' },
        { index: { _index: index, _id: '2', version: 3, version_type: 'external_gte' } },
        { name: 'two-v3-stale' },
        { delete: { _index: index, _id: '1' } },
      ],
    });
    expect(bulk.errors).toBe(true);
    expect(bulk.items.map((i) => Object.values(i)[0]?.status)).toEqual([201, 409, 200]);
    const two = await client.get<{ name: string }>({ index, id: '2' });
    expect(two._source?.name).toBe('two-v5');
    expect(two._version).toBe(5);
    expect((await client.count({ index })).count).toBe(1);
  });
});
