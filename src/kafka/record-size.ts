/**
 * Byte sizes of records as they travel in a Kafka v2 record batch — the unit a broker compares with
 * a topic's `max.message.bytes` (MESSAGE_TOO_LARGE above it). Used to split sends and to find a
 * single event that can never fit.
 *
 * Invariant: `recordSizeBound(r)` ≥ the bytes the encoder (./produce-request.ts) writes for `r` in
 * any batch (varints are counted at their widest), so a batch whose `RECORD_BATCH_OVERHEAD` + Σ
 * bounds ≤ limit is accepted by a broker whose limit is `limit`.
 */

/** Record batch header up to and including the record count (baseOffset … recordCount). */
export const RECORD_BATCH_OVERHEAD = 61;

/** Produce request bytes outside the record batches: header, transactional id, one topic entry (generous). */
export const REQUEST_OVERHEAD = 512;

/** The Kafka default of `message.max.bytes` (1 MiB + the 12-byte log overhead), used when a topic's value cannot be read. */
export const BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1048588;

/** The bytes of one record's key/value/headers (strings as UTF-8). */
export interface SizedRecord {
  readonly key: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly headers?: Readonly<Record<string, string | Buffer | undefined>>;
}

const len = (b: string | Buffer | null | undefined): number => (b == null ? 0 : typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length);
/** Short strings: UTF-8 bytes ≤ 3 per UTF-16 code unit, a bound without a native call; longer ones measured. */
const smallLen = (b: string | Buffer | null | undefined): number =>
  b == null ? 0 : typeof b !== 'string' ? b.length : b.length <= 64 ? 3 * b.length : Buffer.byteLength(b, 'utf8');

/**
 * Upper bound of one record in a batch: length varint (5) + attributes (1) + timestamp delta (10)
 * + offset delta (5) + key and value (5 + bytes each) + header count (5) + per header 10 + bytes.
 * The value and long strings are measured exactly; short keys and headers are bounded at 3 bytes
 * per character, which is cheaper (this runs per event) and over-counts by a few hundred bytes at most.
 */
export function recordSizeBound(r: SizedRecord): number {
  let size = 36 + smallLen(r.key) + len(r.value);
  const h = r.headers;
  if (h) for (const k in h) size += 10 + smallLen(k) + smallLen(h[k]);
  return size;
}

/** Bytes of a record batch holding only `r` (what a topic's max.message.bytes is compared with). */
export const singleRecordBatchSize = (r: SizedRecord): number => RECORD_BATCH_OVERHEAD + recordSizeBound(r);

/**
 * Splits `records` (in order) into consecutive chunks each of which fits one Produce request:
 * per topic at most `topicLimit(topic)` batch bytes (so every per-partition batch fits the topic),
 * in all at most `maxRequestSize`. A record that alone exceeds a limit gets a chunk of its own (the
 * broker then answers MESSAGE_TOO_LARGE; callers check single records before, see
 * src/source/oversize.ts). Order is kept: chunks are sent one after another.
 */
export function splitBySize<R extends SizedRecord & { readonly topic: string }>(
  records: readonly R[],
  maxRequestSize: number,
  topicLimit: (topic: string) => number,
  sizes?: readonly number[],
): R[][] {
  const requestBudget = Math.max(1, maxRequestSize - REQUEST_OVERHEAD);
  const chunks: R[][] = [];
  let chunk: R[] = [];
  let total = 0;
  let perTopic = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as R;
    const size = sizes?.[i] ?? recordSizeBound(r);
    const used = perTopic.get(r.topic);
    const topicBytes = (used ?? RECORD_BATCH_OVERHEAD) + size;
    const addTotal = size + (used === undefined ? RECORD_BATCH_OVERHEAD : 0);
    if (chunk.length > 0 && (topicBytes > topicLimit(r.topic) || total + addTotal > requestBudget)) {
      chunks.push(chunk);
      chunk = [];
      total = 0;
      perTopic = new Map();
    }
    const before = perTopic.get(r.topic);
    perTopic.set(r.topic, (before ?? RECORD_BATCH_OVERHEAD) + size);
    total += size + (before === undefined ? RECORD_BATCH_OVERHEAD : 0);
    chunk.push(r);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
