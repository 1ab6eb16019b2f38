/** Publisher invariants with a recording producer (unit level; the real Kafka path is in test/source). */
import { describe, expect, it } from 'vitest';
import { MAX_UNACKED_SENDS, type KafkaRecord, type TransactionalProducer } from '../kafka/producer.js';
import { Publisher, type CommittedBatch } from './publisher.js';

type Call = { kind: 'send'; records: KafkaRecord[] } | { kind: 'commit' };

function recorder(): { producer: TransactionalProducer; calls: Call[] } {
  const calls: Call[] = [];
  const producer = {
    send: async (records: KafkaRecord[]) => void calls.push({ kind: 'send', records: [...records] }),
    commit: async () => void calls.push({ kind: 'commit' }),
  } as unknown as TransactionalProducer;
  return { producer, calls };
}

const rec = (v: string): KafkaRecord => ({ topic: 't', key: v, value: v });
const off = (lsn: string, seq: number) => ({ connector: 'c', last_commit_lsn: lsn, last_seq: seq, snapshot: null });

describe('Publisher', () => {
  it('commits only at PG transaction boundaries, with the offsets record last', async () => {
    const { producer, calls } = recorder();
    const committed: CommittedBatch[] = [];
    const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 3, maxBatchWaitMs: 10_000, maxQueueSize: 100, onCommitted: (b) => void committed.push(b) });
    // one large PG tx of 7 events: chunks go into the open Kafka tx, no commit before its end
    for (let i = 0; i < 7; i++) await p.push([rec(`a${i}`)]);
    await p.drain();
    expect(calls.filter((c) => c.kind === 'commit')).toHaveLength(0);
    expect(p.hasPartial).toBe(true);
    await p.endTransaction(off('0/10', 6), 1);
    await p.drain();
    const last = calls.at(-2);
    expect(last?.kind).toBe('send');
    expect((last as { records: KafkaRecord[] }).records.at(-1)).toMatchObject({ topic: 'o', key: 'c' });
    expect(calls.at(-1)?.kind).toBe('commit');
    expect(committed).toHaveLength(1);
    expect(committed[0]!.offset.last_commit_lsn).toBe('0/10');
    const sent = calls.flatMap((c) => (c.kind === 'send' ? c.records.map((r) => r.key) : []));
    expect(sent).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'c']);
  });

  it('a timer commit never includes part of an open transaction', async () => {
    const { producer, calls } = recorder();
    const committed: CommittedBatch[] = [];
    const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 100, maxBatchWaitMs: 20, maxQueueSize: 1000, onCommitted: (b) => void committed.push(b) });
    await p.push([rec('x1')]);
    await p.endTransaction(off('0/20', 0), 1);
    await p.push([rec('y1')]); // next tx, still open
    await new Promise((r) => setTimeout(r, 60));
    await p.drain();
    expect(committed).toHaveLength(1);
    const sent = calls.flatMap((c) => (c.kind === 'send' ? c.records.map((r) => r.key) : []));
    expect(sent).toEqual(['x1', 'c']);
    expect(p.idle).toBe(false);
  });

  it('backpressure: push waits while the queue is full and a failure is sticky', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let failNext = false;
    const producer = {
      send: async () => {
        await gate;
        if (failNext) throw new Error('kafka down');
      },
      commit: async () => undefined,
    } as unknown as TransactionalProducer;
    const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 2, maxBatchWaitMs: 10_000, maxQueueSize: 4, onCommitted: () => undefined });
    await p.push([rec('1'), rec('2')]);
    await p.push([rec('3'), rec('4')]);
    let resolved = false;
    const waiting = p.push([rec('5')]);
    expect(waiting).toBeInstanceOf(Promise); // queue full: the caller must wait
    const blocked = (waiting as Promise<void>).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    failNext = true;
    release();
    await expect(blocked).rejects.toThrow('kafka down');
    expect(() => p.push([rec('6')])).toThrow('kafka down');
  });

  it('sends buffered records before max.batch.bytes would be passed, still committing at PG boundaries only', async () => {
    const { producer, calls } = recorder();
    const committed: CommittedBatch[] = [];
    const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 1000, maxBatchBytes: 250, maxBatchWaitMs: 10_000, maxQueueSize: 1000, onCommitted: (b) => void committed.push(b) });
    for (let i = 0; i < 5; i++) await p.push([rec(`a${i}`)], 100);
    await p.drain();
    // 100 + 100 fit in 250; the third would pass it: two sends of two records so far, no commit.
    const sends = calls.filter((c): c is { kind: 'send'; records: KafkaRecord[] } => c.kind === 'send').map((c) => c.records.map((r) => r.key));
    expect(sends).toEqual([
      ['a0', 'a1'],
      ['a2', 'a3'],
    ]);
    expect(committed).toHaveLength(0);
    await p.endTransaction(off('0/30', 4), 1);
    await p.flush();
    expect(calls.at(-1)?.kind).toBe('commit');
    const sent = calls.flatMap((c) => (c.kind === 'send' ? c.records.map((r) => r.key) : []));
    expect(sent).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'c']);
    expect(committed[0]!.events).toBe(5);
  });

  it('max.queue.size.in.bytes: push waits once the bytes buffered or in flight pass it, however few the records', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const sent: string[] = [];
    const producer = {
      send: async (records: KafkaRecord[]) => {
        await gate;
        for (const r of records) sent.push(r.key as string);
      },
      commit: async () => undefined,
    } as unknown as TransactionalProducer;
    // Counts alone would let 1,000 records wait; 3 × 400 bytes pass the 1,000-byte bound.
    const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 1000, maxBatchWaitMs: 10_000, maxQueueSize: 1000, maxQueueBytes: 1000, onCommitted: () => undefined });
    expect(p.push([rec('1')], 400)).toBeUndefined();
    expect(p.push([rec('2')], 400)).toBeUndefined();
    const waiting = p.push([rec('3')], 400);
    expect(waiting).toBeInstanceOf(Promise); // sent on (bytes reached), and the caller waits for it
    let resolved = false;
    const blocked = (waiting as Promise<void>).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    release();
    await blocked;
    expect(sent).toEqual(['1', '2', '3']);
    // Without the byte bound the same pushes never wait.
    const q = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 1000, maxBatchWaitMs: 10_000, maxQueueSize: 1000, onCommitted: () => undefined });
    for (let i = 0; i < 3; i++) expect(q.push([rec(`q${i}`)], 400)).toBeUndefined();
  });

  it('with a pipelined producer a Kafka transaction spans up to MAX_UNACKED_SENDS sends; without, one', async () => {
    const commitsAfter = async (pipelined: boolean): Promise<number[]> => {
      const { producer, calls } = recorder();
      Object.assign(producer, { pipelined });
      const p = new Publisher(producer, { offsetsTopic: 'o', maxBatchSize: 2, maxBatchWaitMs: 10_000, maxQueueSize: 100, onCommitted: () => undefined });
      // 12 one-event PG transactions
      for (let i = 0; i < 12; i++) {
        await p.push([rec(`e${i}`)]);
        await p.endTransaction(off(`0/${i + 1}`, 0), 1);
      }
      await p.flush();
      const sizes: number[] = [];
      let n = 0;
      for (const c of calls) {
        if (c.kind === 'send') n += c.records.filter((r) => r.topic !== 'o').length;
        else {
          sizes.push(n);
          n = 0;
        }
      }
      return sizes;
    };
    expect(await commitsAfter(false)).toEqual([2, 2, 2, 2, 2, 2]);
    const pipelined: number[] = [];
    for (let left = 12; left > 0; left -= 2 * MAX_UNACKED_SENDS) pipelined.push(Math.min(2 * MAX_UNACKED_SENDS, left));
    expect(pipelined.length).toBeGreaterThan(1);
    expect(await commitsAfter(true)).toEqual(pipelined);
  });
});
