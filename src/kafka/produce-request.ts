/**
 * A Produce request encoder that writes the whole request into ONE buffer.
 *
 * Why by hand: @platformatic/kafka builds each record from ~10 tiny Buffers (one per int8/varint),
 * links them into lists, then concatenates everything twice (for the CRC and for the socket). In
 * `npm run bench:source` that buffer plumbing plus the garbage it makes was the largest single cost
 * of the source thread (see bench/results/source.json → mainThreadProfile). Here the exact size is
 * computed first, then keys, values and headers are copied once into a single allocation and the
 * CRC32C runs over a subarray of it.
 *
 * It produces the same bytes as the library's `createRequest` for Produce v7–v11 (uncompressed;
 * test/kafka/produce-request.test.ts compares them), so the library still does everything else:
 * connections, retries, sequences, transactions and response parsing. Compressed batches, and any
 * version this file does not know, fall back to the library's own encoder.
 */
import { promisify } from 'node:util';
import { crc32c, createAPI, produceV7, produceV8, produceV9, produceV10, produceV11, Writer, type API, type MessageRecord } from '@platformatic/kafka';

/** The slice of the library's batch options this encoder reads. */
export interface ProduceOptions {
  readonly transactionalId?: string | null;
  readonly compression?: string;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly partitionLeaderEpoch?: number;
  readonly sequences?: { getWithDefault(key: string, fallback: number): number };
}

/** Record bytes: a Buffer, or a string written as UTF-8 straight into the request (no Buffer in between). */
export type Bytes = Buffer | string | null | undefined;

/** A message as the library hands it to the Produce API, with keys/values as Buffers or strings. */
export interface OutgoingMessage {
  readonly topic: string;
  partition?: number;
  timestamp?: bigint;
  readonly key?: Bytes;
  readonly value?: Bytes;
  readonly headers?: ReadonlyMap<Bytes, Bytes>;
}
type LibraryModule = typeof produceV11;

/** Produce versions whose request layout this encoder writes, with the library module for each. */
export const PRODUCE_VERSIONS: ReadonlyMap<number, LibraryModule> = new Map<number, LibraryModule>([
  [7, produceV7 as unknown as LibraryModule],
  [8, produceV8 as unknown as LibraryModule],
  [9, produceV9],
  [10, produceV10],
  [11, produceV11],
]);

const RECORD_BATCH_OVERHEAD = 61; // baseOffset … recordCount
const CRC_START = 21; // attributes begin after baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4)

function uvarintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Zig-zag for JS numbers up to 2^52 (record deltas and lengths). */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

const varintSize = (value: number): number => uvarintSize(zigzag(value));
/**
 * Strings up to this many UTF-16 units are measured and, when ASCII, copied in JS: keys and header
 * names/values are this short, and a native call per field (4–6 per record) cost more than the loop.
 */
const SHORT = 64;

/** UTF-8 length; equal to `b.length` exactly when a string is all ASCII. */
function byteLength(b: Buffer | string): number {
  if (typeof b !== 'string') return b.length;
  const n = b.length;
  if (n > SHORT) return Buffer.byteLength(b, 'utf8');
  for (let i = 0; i < n; i++) if (b.charCodeAt(i) >= 0x80) return Buffer.byteLength(b, 'utf8');
  return n;
}
/** Size of a record field whose content is `len` bytes (-1 = null). */
const fieldSize = (len: number): number => (len < 0 ? 1 : varintSize(len) + len);
const bytesSize = (b: Bytes): number => fieldSize(b == null ? -1 : byteLength(b));

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  uvarint(value: number): void {
    const buf = this.buf;
    while (value >= 0x80) {
      buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[this.pos++] = value;
  }
  varint(value: number): void {
    this.uvarint(zigzag(value));
  }
  int8(value: number): void {
    this.buf.writeInt8(value, this.pos);
    this.pos += 1;
  }
  int16(value: number): void {
    this.buf.writeInt16BE(value, this.pos);
    this.pos += 2;
  }
  int32(value: number): void {
    this.buf.writeInt32BE(value, this.pos);
    this.pos += 4;
  }
  int64(value: bigint): void {
    this.buf.writeBigInt64BE(value, this.pos);
    this.pos += 8;
  }
  /** Record field bytes: varint length (-1 for null) then the bytes. */
  bytes(b: Bytes, len = b == null ? -1 : byteLength(b)): void {
    this.varint(len);
    if (b == null) return;
    if (typeof b !== 'string') b.copy(this.buf, this.pos);
    else if (len === b.length && len <= SHORT) {
      // all ASCII (UTF-8 length = UTF-16 length): bytes are the char codes
      const buf = this.buf;
      const at = this.pos;
      for (let i = 0; i < len; i++) buf[at + i] = b.charCodeAt(i);
    } else this.buf.write(b, this.pos, len, 'utf8');
    this.pos += len;
  }
  /** String: compact (uvarint length+1, 0 = null) or classic (int16 length, -1 = null). */
  string(encoded: Buffer | null, flexible: boolean): void {
    if (encoded === null) {
      if (flexible) this.uvarint(0);
      else this.int16(-1);
      return;
    }
    if (flexible) this.uvarint(encoded.length + 1);
    else this.int16(encoded.length);
    encoded.copy(this.buf, this.pos);
    this.pos += encoded.length;
  }
  /** Array element count or records byte length: compact (uvarint n+1) or classic (int32 n). */
  count(n: number, flexible: boolean): void {
    if (flexible) this.uvarint(n + 1);
    else this.int32(n);
  }
}

interface PartitionBatch {
  readonly partition: number;
  readonly messages: OutgoingMessage[];
  /** UTF-8 lengths of keys and values (-1 = null), from the sizing pass. */
  readonly keyLens: number[];
  readonly valueLens: number[];
  /** Record body sizes (without their own varint length prefix), filled in the sizing pass. */
  readonly bodySizes: number[];
  batchSize: number;
}

interface TopicGroup {
  readonly topic: string;
  readonly name: Buffer;
  readonly partitions: Map<number, PartitionBatch>;
}

const stringSize = (encoded: Buffer | null, flexible: boolean): number =>
  encoded === null ? (flexible ? 1 : 2) : (flexible ? uvarintSize(encoded.length + 1) : 2) + encoded.length;
/** Size of Cursor.count(n). */
const countSize = (n: number, flexible: boolean): number => (flexible ? uvarintSize(n + 1) : 4);

/**
 * The Produce request body for `version` (7–11), byte-for-byte what the library's own
 * `createRequest(acks, timeout, topicData, options)` writes for an uncompressed batch. Like the
 * library, it fills in a missing partition (0) and timestamp (now) on the messages it is given.
 */
export function encodeProduceRequest(version: number, acks: number, timeout: number, topicData: OutgoingMessage[], options: ProduceOptions = {}): Buffer {
  const flexible = version >= 9;
  const now = BigInt(Date.now());
  const groups = new Map<string, TopicGroup>();
  for (const message of topicData) {
    if (typeof message.partition === 'undefined') message.partition = 0;
    if (typeof message.timestamp === 'undefined') message.timestamp = now;
    let group = groups.get(message.topic);
    if (!group) {
      group = { topic: message.topic, name: Buffer.from(message.topic, 'utf8'), partitions: new Map() };
      groups.set(message.topic, group);
    }
    let batch = group.partitions.get(message.partition);
    if (!batch) {
      batch = { partition: message.partition, messages: [], keyLens: [], valueLens: [], bodySizes: [], batchSize: 0 };
      group.partitions.set(message.partition, batch);
    }
    batch.messages.push(message);
  }
  // Partitions in ascending order, as the library writes them (it groups through an object's integer keys).
  for (const group of groups.values()) {
    if (group.partitions.size > 1) {
      const sorted = [...group.partitions.entries()].sort((a, b) => a[0] - b[0]);
      group.partitions.clear();
      for (const [k, v] of sorted) group.partitions.set(k, v);
    }
  }

  // Pass 1: exact sizes.
  const txId = options.transactionalId;
  const txIdBytes = txId == null ? null : Buffer.from(txId, 'utf8');
  let total = stringSize(txIdBytes, flexible) + 2 + 4 + countSize(groups.size, flexible);
  for (const group of groups.values()) {
    total += stringSize(group.name, flexible) + countSize(group.partitions.size, flexible);
    for (const batch of group.partitions.values()) {
      const firstTimestamp = batch.messages[0]?.timestamp as bigint;
      let size = RECORD_BATCH_OVERHEAD;
      for (let i = 0; i < batch.messages.length; i++) {
        const m = batch.messages[i] as OutgoingMessage;
        const keyLen = m.key == null ? -1 : byteLength(m.key);
        const valueLen = m.value == null ? -1 : byteLength(m.value);
        batch.keyLens.push(keyLen);
        batch.valueLens.push(valueLen);
        let body = 1 + varintSize(Number((m.timestamp as bigint) - firstTimestamp)) + varintSize(i) + fieldSize(keyLen) + fieldSize(valueLen);
        const headers = m.headers;
        body += varintSize(headers?.size ?? 0);
        if (headers) for (const [k, v] of headers) body += bytesSize(k) + bytesSize(v);
        batch.bodySizes.push(body);
        size += varintSize(body) + body;
      }
      batch.batchSize = size;
      total += 4 + countSize(size, flexible) + size + (flexible ? 1 : 0);
    }
    if (flexible) total += 1; // topic tagged fields
  }
  if (flexible) total += 1; // request tagged fields

  // Pass 2: write.
  const w = new Cursor(Buffer.allocUnsafe(total));
  w.string(txIdBytes, flexible);
  w.int16(acks);
  w.int32(timeout);
  w.count(groups.size, flexible);
  for (const group of groups.values()) {
    w.string(group.name, flexible);
    w.count(group.partitions.size, flexible);
    for (const batch of group.partitions.values()) {
      w.int32(batch.partition);
      w.count(batch.batchSize, flexible);
      writeRecordBatch(w, group.topic, batch, options);
      if (flexible) w.uvarint(0);
    }
    if (flexible) w.uvarint(0);
  }
  if (flexible) w.uvarint(0);
  if (w.pos !== total) throw new Error(`Produce request encoder wrote ${w.pos} bytes, sized ${total} (encoder bug)`);
  return w.buf;
}

const IS_TRANSACTIONAL = 1 << 4;

function writeRecordBatch(w: Cursor, topic: string, batch: PartitionBatch, options: ProduceOptions): void {
  const { messages, bodySizes } = batch;
  const start = w.pos;
  const firstTimestamp = messages[0]?.timestamp as bigint;
  let maxTimestamp = firstTimestamp;
  for (const m of messages) if ((m.timestamp as bigint) > maxTimestamp) maxTimestamp = m.timestamp as bigint;

  w.int64(0n); // baseOffset
  w.int32(batch.batchSize - 12); // length: from partitionLeaderEpoch to the end
  w.int32(options.partitionLeaderEpoch ?? 0);
  w.int8(2); // magic
  const crcAt = w.pos;
  w.pos += 4;
  w.int16(options.transactionalId ? IS_TRANSACTIONAL : 0);
  w.int32(messages.length - 1); // lastOffsetDelta
  w.int64(firstTimestamp);
  w.int64(maxTimestamp);
  w.int64(options.producerId ?? -1n);
  w.int16(options.producerEpoch ?? 0);
  w.int32(options.sequences ? options.sequences.getWithDefault(`${topic}:${batch.partition}`, 0) : 0);
  w.int32(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OutgoingMessage;
    w.varint(bodySizes[i] as number);
    w.int8(0); // attributes
    w.varint(Number((m.timestamp as bigint) - firstTimestamp));
    w.varint(i);
    w.bytes(m.key, batch.keyLens[i]);
    w.bytes(m.value, batch.valueLens[i]);
    const headers = m.headers;
    w.varint(headers?.size ?? 0);
    if (headers) {
      for (const [k, v] of headers) {
        w.bytes(k);
        w.bytes(v);
      }
    }
  }
  if (w.pos - start !== batch.batchSize) throw new Error(`Record batch encoder wrote ${w.pos - start} bytes, sized ${batch.batchSize} (encoder bug)`);
  w.buf.writeUInt32BE(crc32c(w.buf.subarray(start + CRC_START, w.pos)), crcAt);
}

export type ProduceApi = API<Parameters<typeof produceV11.createRequest>, Awaited<ReturnType<typeof produceV11.parseResponse>>>;
const fastApis = new Map<number, ProduceApi>();

const toBuffer = (b: Bytes): Buffer | undefined => (b == null ? undefined : typeof b === 'string' ? Buffer.from(b, 'utf8') : b);

/** The messages as the library's own encoder needs them: every key, value and header a Buffer. */
export function withBuffers(topicData: readonly OutgoingMessage[]): MessageRecord[] {
  return topicData.map((m) => {
    const headers = new Map<Buffer, Buffer>();
    for (const [k, v] of m.headers ?? []) headers.set(toBuffer(k) ?? Buffer.alloc(0), toBuffer(v) as Buffer);
    return { topic: m.topic, partition: m.partition, timestamp: m.timestamp, key: toBuffer(m.key), value: toBuffer(m.value) as Buffer, headers };
  });
}

/**
 * The Produce API to use in place of the library's `libraryApi`: same version, same response
 * parser, this file's encoder. Compressed requests, and versions this file does not know, go to
 * the library's own API after string keys/values are turned into Buffers (so they get whatever the
 * library does there, e.g. since 2.x gzip off the main thread).
 */
export function fastProduceApi(libraryApi: ProduceApi): ProduceApi {
  const version = libraryApi.version;
  let api = fastApis.get(version);
  if (api) return api;
  const lib = PRODUCE_VERSIONS.get(version);
  const flexible = version >= 9;
  const encoded = lib
    ? createAPI(
        0,
        version,
        (acks: number | undefined, timeout: number | undefined, topicData: OutgoingMessage[], options: ProduceOptions = {}): Writer => {
          const writer = Writer.create().append(encodeProduceRequest(version, acks ?? 1, timeout ?? 0, topicData, options));
          if (acks === 0) writer.context.noResponse = true;
          return writer;
        },
        lib.parseResponse,
        flexible,
        flexible,
      )
    : null;
  // (connection, acks, timeout, topicData, options?, callback?) as the library calls it.
  const call = (connection: Parameters<ProduceApi>[0], acks: number | undefined, timeout: number | undefined, topicData: OutgoingMessage[], ...rest: unknown[]): void => {
    const options = rest[0] as ProduceOptions | undefined;
    const compressed = typeof options === 'object' && options !== null && options.compression !== undefined && options.compression !== 'none';
    if (encoded && !compressed) (encoded as unknown as (...args: unknown[]) => void)(connection, acks, timeout, topicData, ...rest);
    else (libraryApi as unknown as (...args: unknown[]) => void)(connection, acks, timeout, withBuffers(topicData), ...rest);
  };
  api = Object.assign(call, { async: promisify(call), key: libraryApi.key, version }) as unknown as ProduceApi;
  fastApis.set(version, api);
  return api;
}
