/**
 * Packs KafkaRecords into two transferable buffers for the producer thread: all keys and values as
 * UTF-8 in one byte buffer, and per record [topic index, key length, value length] (-1 = null).
 * Transferring two ArrayBuffers is zero-copy; cloning thousands of small objects was not
 * (bench:source: the structured clone cost more CPU than it moved off the source thread).
 */
import type { EncodedRecord, KafkaRecord } from './producer.js';

export interface PackedRecords {
  readonly topics: readonly string[];
  readonly meta: Int32Array;
  readonly data: Uint8Array;
  /** Headers are rare (DLQ-style metadata); sent as [record index, headers] pairs. */
  readonly headers: readonly (readonly [number, Readonly<Record<string, string>>])[];
}

export function packRecords(records: readonly KafkaRecord[]): PackedRecords {
  const n = records.length;
  const meta = new Int32Array(n * 3);
  const topicIndex = new Map<string, number>();
  const topics: string[] = [];
  const headers: [number, Readonly<Record<string, string>>][] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i] as KafkaRecord;
    let t = topicIndex.get(r.topic);
    if (t === undefined) {
      t = topics.push(r.topic) - 1;
      topicIndex.set(r.topic, t);
    }
    const kl = r.key === null ? -1 : Buffer.byteLength(r.key);
    const vl = r.value === null ? -1 : Buffer.byteLength(r.value);
    meta[i * 3] = t;
    meta[i * 3 + 1] = kl;
    meta[i * 3 + 2] = vl;
    total += Math.max(0, kl) + Math.max(0, vl);
    if (r.headers) headers.push([i, r.headers]);
  }
  const data = Buffer.from(new ArrayBuffer(total));
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i] as KafkaRecord;
    if (r.key !== null) pos += data.write(r.key, pos, 'utf8');
    if (r.value !== null) pos += data.write(r.value, pos, 'utf8');
  }
  return { topics, meta, data, headers };
}

export function unpackRecords(p: PackedRecords): EncodedRecord[] {
  const n = p.meta.length / 3;
  const data = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  const out: EncodedRecord[] = new Array(n);
  const headers = new Map(p.headers);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const kl = p.meta[i * 3 + 1] as number;
    const vl = p.meta[i * 3 + 2] as number;
    const key = kl < 0 ? undefined : data.subarray(pos, (pos += kl));
    const value = vl < 0 ? undefined : data.subarray(pos, (pos += vl));
    const h = headers.get(i);
    out[i] = h ? { topic: p.topics[p.meta[i * 3] as number] as string, key, value, headers: h } : { topic: p.topics[p.meta[i * 3] as number] as string, key, value };
  }
  return out;
}
