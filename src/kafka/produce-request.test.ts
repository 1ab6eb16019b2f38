import { NumericMap, produceV11, Reader, readRecordsBatch, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { encodeProduceRequest, fastProduceApi, PRODUCE_VERSIONS, type OutgoingMessage, type ProduceApi } from './produce-request.js';

const T0 = 1_764_000_000_000n;

/** A mix that touches every branch: topics and partitions interleaved, null key/value, headers, UTF-8, big values, timestamps out of order. */
function messages(): MessageRecord[] {
  const big = 'x'.repeat(70_000) + 'é';
  const rows: MessageRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const topic = i % 3 === 0 ? 'app.public.orders' : 'app.public.ünïcode';
    const m: MessageRecord = {
      topic,
      partition: i % 4,
      timestamp: T0 + BigInt((i * 37) % 11) - 5n,
      key: i % 7 === 3 ? undefined : Buffer.from(JSON.stringify({ id: i })),
      value: (i % 5 === 4 ? null : Buffer.from(i === 17 ? big : JSON.stringify({ after: { id: i, note: 'naïve ✓ 🚀' }, op: 'c' }))) as Buffer,
    };
    if (i % 6 === 1) m.headers = new Map([[Buffer.from('h1'), Buffer.from('v' + i)], [Buffer.from('ключ'), Buffer.from('')], [Buffer.from('e'), Buffer.from('🚀x\u00ff')], [Buffer.from('h'.repeat(65)), Buffer.from('x'.repeat(64))]]);
    else m.headers = new Map();
    rows.push(m);
  }
  return rows;
}

const copy = (ms: MessageRecord[]): MessageRecord[] => ms.map((m) => ({ ...m }));

function sequences(): NumericMap {
  const s = new NumericMap();
  s.set('app.public.orders:1', 41);
  s.set('app.public.ünïcode:2', 2_000_000);
  return s;
}

describe('encodeProduceRequest', () => {
  for (const version of PRODUCE_VERSIONS.keys()) {
    for (const transactional of [true, false]) {
      it(`writes the same bytes as the library for Produce v${version} (${transactional ? 'transactional' : 'plain'})`, () => {
        const lib = PRODUCE_VERSIONS.get(version) as typeof produceV11;
        const options = {
          compression: 'none' as const,
          producerId: 123_456_789_012n,
          producerEpoch: 7,
          sequences: sequences(),
          ...(transactional ? { transactionalId: 'cdc-fanout-ünï' } : {}),
        };
        const expected = lib.createRequest(-1, 30_000, copy(messages()), options).buffer;
        const actual = encodeProduceRequest(version, -1, 30_000, copy(messages()), options);
        expect(actual.length).toBe(expected.length);
        expect(actual.equals(expected)).toBe(true);
      });
    }
  }

  it('writes a batch the library reads back record for record, with a valid CRC', () => {
    const ms = messages().filter((m) => m.topic === 'app.public.orders' && m.partition === 0);
    const body = encodeProduceRequest(11, -1, 1000, copy(ms), { producerId: 5n, producerEpoch: 1, transactionalId: 't' });
    // v11 body: txid(compact "t") acks timeout [topics] name [partitions] index records
    const reader = Reader.from(body);
    expect(reader.readString()).toBe('t');
    reader.skip(2 + 4);
    expect(reader.readUnsignedVarInt()).toBe(2);
    expect(reader.readString()).toBe('app.public.orders');
    expect(reader.readUnsignedVarInt()).toBe(2);
    expect(reader.readInt32()).toBe(0);
    reader.readUnsignedVarInt();
    const batch = readRecordsBatch(reader);
    expect(batch.producerId).toBe(5n);
    expect(batch.records.map((r) => r.value?.toString() ?? null)).toEqual(ms.map((m) => m.value?.toString() ?? null));
    expect(batch.records.map((r) => r.key?.toString() ?? null)).toEqual(ms.map((m) => m.key?.toString() ?? null));
  });

  it('writes string keys, values and headers as their UTF-8 bytes', () => {
    const options = { producerId: 9n, producerEpoch: 1, transactionalId: 'tx' };
    const asStrings: OutgoingMessage[] = messages().map((m) => ({
      ...m,
      key: m.key?.toString('utf8'),
      value: m.value == null ? null : m.value.toString('utf8'),
      headers: new Map([...(m.headers ?? [])].map(([k, v]) => [k.toString('utf8'), v.toString('utf8')])),
    }));
    expect(encodeProduceRequest(11, -1, 5, asStrings, options).equals(encodeProduceRequest(11, -1, 5, copy(messages()), options))).toBe(true);
  });

  it('fills in a missing partition and timestamp like the library', () => {
    const m: MessageRecord = { topic: 't', value: Buffer.from('v') };
    encodeProduceRequest(11, 1, 0, [m]);
    expect(m.partition).toBe(0);
    expect(typeof m.timestamp).toBe('bigint');
  });
});

describe('fastProduceApi', () => {
  it('replaces every version it encodes and leaves the others to the library', () => {
    const v11 = produceV11.api as unknown as ProduceApi;
    const fast = fastProduceApi(v11);
    expect(fast).not.toBe(v11);
    expect(fast.version).toBe(11);
    expect(fast.key).toBe(0);
  });

  it('sends uncompressed batches through this encoder', async () => {
    const api = fastProduceApi(produceV11.api as unknown as ProduceApi);
    const sent: Promise<{ buffer: Buffer }>[] = [];
    const connection = { send: (_k: number, _v: number, payload: () => { buffer: Buffer } | Promise<{ buffer: Buffer }>) => void sent.push(Promise.resolve(payload())) };
    const options = { producerId: 3n, producerEpoch: 0, transactionalId: 'tx' };
    (api as unknown as (...a: unknown[]) => void)(connection, -1, 10, [{ topic: 't', partition: 1, timestamp: T0, key: 'k', value: 'v', headers: new Map() }], options);
    expect(sent).toHaveLength(1);
    const expected = encodeProduceRequest(11, -1, 10, [{ topic: 't', partition: 1, timestamp: T0, key: 'k', value: 'v', headers: new Map() }], options);
    expect((await sent[0])?.buffer.equals(expected)).toBe(true);
  });

  it('leaves compressed batches to the library encoder', async () => {
    const api = fastProduceApi(produceV11.api as unknown as ProduceApi);
    // The library's API may build a compressed request asynchronously (2.x: gzip), so the payload may be a promise.
    const sent: Promise<{ buffer: Buffer }>[] = [];
    const connection = { send: (_k: number, _v: number, payload: () => { buffer: Buffer } | Promise<{ buffer: Buffer }>) => void sent.push(Promise.resolve(payload())) };
    const options = { compression: 'gzip' as const, producerId: 3n, producerEpoch: 0, transactionalId: 'tx' };
    const asStrings: OutgoingMessage[] = [{ topic: 't', partition: 0, timestamp: T0, key: 'k', value: 'v'.repeat(100), headers: new Map() }];
    (api as unknown as (...a: unknown[]) => void)(connection, -1, 10, asStrings, options);
    expect(sent).toHaveLength(1);
    const request = (await sent[0])?.buffer;
    const expected = produceV11.createRequest(-1, 10, [{ topic: 't', partition: 0, timestamp: T0, key: Buffer.from('k'), value: Buffer.from('v'.repeat(100)), headers: new Map() }], options).buffer;
    expect(request?.equals(expected)).toBe(true);
    // and it is compressed: the 100 'v's are not in the request as they are
    expect(request?.includes(Buffer.from('v'.repeat(100)))).toBe(false);
  });

  it('hands versions it does not encode to the library, with strings turned into Buffers', () => {
    const calls: unknown[][] = [];
    const future = Object.assign((...args: unknown[]) => void calls.push(args), { key: 0, version: 99, async: () => Promise.resolve() }) as unknown as ProduceApi;
    const api = fastProduceApi(future);
    expect(api.version).toBe(99);
    const strings: OutgoingMessage[] = [{ topic: 't', partition: 0, key: 'k', value: 'v', headers: new Map([['h', 'x']]) }];
    (api as unknown as (...a: unknown[]) => void)('conn', -1, 10, strings, { transactionalId: 't' });
    expect(calls).toHaveLength(1);
    const [conn, acks, timeout, topicData] = calls[0] as [string, number, number, MessageRecord[]];
    expect([conn, acks, timeout]).toEqual(['conn', -1, 10]);
    expect(topicData[0]?.key).toEqual(Buffer.from('k'));
    expect(topicData[0]?.value).toEqual(Buffer.from('v'));
    expect([...(topicData[0]?.headers ?? [])]).toEqual([[Buffer.from('h'), Buffer.from('x')]]);
  });
});
