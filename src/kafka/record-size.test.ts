import { describe, expect, it } from 'vitest';
import { encodeProduceRequest } from './produce-request.js';
import { RECORD_BATCH_OVERHEAD, recordSizeBound, splitBySize } from './record-size.js';
import { describeKafkaError } from './errors.js';

describe('record sizes', () => {
  it('recordSizeBound is never below what the encoder writes', () => {
    const records = [
      { topic: 't', key: '{"id":1}', value: 'é'.repeat(300), headers: { 'cdc.commit_lsn': '123', 'cdc.seq': '4' } },
      { topic: 't', key: null, value: null },
      { topic: 't', key: 'k', value: 'v'.repeat(70_000), headers: { h: '' } },
    ];
    for (const r of records) {
      const req = encodeProduceRequest(9, -1, 1000, [{ topic: r.topic, partition: 0, timestamp: 0n, key: r.key, value: r.value, headers: new Map(Object.entries(r.headers ?? {})) }]);
      const empty = encodeProduceRequest(9, -1, 1000, [{ topic: r.topic, partition: 0, timestamp: 0n, key: null, value: null, headers: new Map() }]);
      // The request grows by exactly the record's bytes beyond an empty record (+ the batch-length varint).
      expect(RECORD_BATCH_OVERHEAD + recordSizeBound(r)).toBeGreaterThanOrEqual(req.length - empty.length + RECORD_BATCH_OVERHEAD);
    }
  });

  it('splitBySize keeps order and every per-topic chunk under its limit', () => {
    const recs = Array.from({ length: 100 }, (_, i) => ({ topic: i % 3 === 0 ? 'small' : 'big', key: String(i), value: 'x'.repeat(900) }));
    const limit = (t: string): number => (t === 'small' ? 3000 : 10_000);
    const chunks = splitBySize(recs, 1_000_000, limit);
    expect(chunks.flat()).toEqual(recs);
    for (const c of chunks) {
      for (const t of ['small', 'big']) {
        const inTopic = c.filter((r) => r.topic === t);
        if (inTopic.length) expect(RECORD_BATCH_OVERHEAD + inTopic.reduce((n, r) => n + recordSizeBound(r), 0)).toBeLessThanOrEqual(limit(t));
      }
    }
    // A record too large for any chunk travels alone.
    expect(splitBySize([recs[0]!, { topic: 'small', key: 'k', value: 'y'.repeat(5000) }, recs[3]!], 1_000_000, limit)).toHaveLength(3);
  });

  it('names the broker code and a remedy; says so when there is none', () => {
    const broker = new AggregateError([Object.assign(new Error('The request included a message larger than the max message size the server will accept.'), { apiId: 'MESSAGE_TOO_LARGE' })], 'Producing messages failed.');
    expect(describeKafkaError(broker).message).toMatch(/^broker error MESSAGE_TOO_LARGE: The request included .* Raise max\.message\.bytes/);
    const kafkajs = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });
    expect(describeKafkaError(kafkajs).code).toBe('MESSAGE_TOO_LARGE');
    const net = new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:9092')], 'Producing messages failed.');
    expect(describeKafkaError(net)).toEqual({ code: '', message: expect.stringContaining('no broker error code (client-side failure: connect ECONNREFUSED 127.0.0.1:9092)') });
  });
});
