import { describe, expect, it } from 'vitest';
import { packRecords, unpackRecords } from './record-pack.js';

describe('packRecords / unpackRecords', () => {
  it('round-trips keys, values, nulls, multi-byte text, topics and headers', () => {
    const records = [
      { topic: 'a', key: '{"id":1}', value: '{"name":"Zoë ✓ 日本"}' },
      { topic: 'b', key: '{"id":1}', value: null },
      { topic: 'a', key: null, value: '' },
      { topic: 'c', key: '', value: 'x', headers: { h: 'v' } },
    ];
    const packed = packRecords(records);
    expect(packed.topics).toEqual(['a', 'b', 'c']);
    const back = unpackRecords(packed).map((r) => ({ topic: r.topic, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, ...(r.headers ? { headers: r.headers } : {}) }));
    expect(back).toEqual(records);
  });
});
