/**
 * Dead-letter producer for sinks (errors.tolerance=dlq). Sends the original key/value and headers
 * (the event's position `cdc.commit_lsn`/`cdc.seq` among them, which `dlq replay` needs to apply the
 * record at its original version) with the Kafka Connect error headers; `send` resolves only once the brokers acknowledged (acks=all,
 * idempotent), so the runtime can commit the batch's offsets after it — a rejected record is never
 * lost between the sink and the DLQ.
 *
 * Size: the DLQ topic is created with max.message.bytes = topic.creation.max.message.bytes (default
 * max.request.size); an existing one's value is read and respected. Sends are split so no request
 * exceeds the limit, and a record too large on its own (the event itself was near the data topic's
 * limit, plus the error headers) is cut: the error message header to 8 KiB, then the value (then
 * the key) to fit, each ending in "…[truncated N bytes]" and listed in the `cdc.truncated` header.
 * A DLQ record therefore never fails for its size, and cannot wedge the sink.
 */
import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import type { RawHeaders } from './consumer.js';
import { KafkaOperationError } from './errors.js';
import { readMaxMessageBytes } from './admin.js';
import { BROKER_DEFAULT_MAX_MESSAGE_BYTES, RECORD_BATCH_OVERHEAD, recordSizeBound, splitBySize } from './record-size.js';

export const DLQ_HEADERS = {
  className: '__connect.errors.class.name',
  message: '__connect.errors.exception.message',
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  sink: '__connect.errors.connector.name',
} as const;

/** Same header and marker as the source's truncate mode (src/events/truncate.ts). */
export const DLQ_TRUNCATED_HEADER = 'cdc.truncated';
const marker = (n: number): string => `…[truncated ${n} bytes]`;
const MAX_ERROR_MESSAGE_BYTES = 8192;

export interface DlqSizeOptions {
  /** kafka max.request.size. */
  readonly maxRequestSize: number;
  /** max.message.bytes for a DLQ topic we create (default maxRequestSize). */
  readonly topicMaxMessageBytes?: number;
}

/** The first `n` bytes of `b`, not splitting a UTF-8 sequence, followed by the marker. */
function cut(b: Buffer, n: number): Buffer {
  let end = Math.max(0, Math.min(n, b.length));
  // Back off over continuation bytes so the kept part stays valid UTF-8 (JSON keys/values are text).
  while (end > 0 && end < b.length && ((b[end] as number) & 0xc0) === 0x80) end--;
  return Buffer.concat([b.subarray(0, end), Buffer.from(marker(b.length - end), 'utf8')]);
}

type DlqMessage = Message & { topic: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string> };

/** `m` cut to fit a record batch of `limit` bytes (see the module comment); `m` itself when it fits. */
export function fitDlqMessage(m: DlqMessage, limit: number): DlqMessage {
  const size = (x: DlqMessage): number => RECORD_BATCH_OVERHEAD + recordSizeBound(x);
  if (size(m) <= limit) return m;
  const headers = { ...m.headers };
  const truncated: string[] = [];
  const msg = Buffer.from(headers[DLQ_HEADERS.message] ?? '', 'utf8');
  if (msg.length > MAX_ERROR_MESSAGE_BYTES) {
    headers[DLQ_HEADERS.message] = cut(msg, MAX_ERROR_MESSAGE_BYTES).toString('utf8');
    truncated.push(DLQ_HEADERS.message);
  }
  headers[DLQ_TRUNCATED_HEADER] = `${DLQ_HEADERS.message},value,key`; // room for the final list
  let out: DlqMessage = { ...m, headers };
  const reserve = 64; // marker and slack
  if (size(out) > limit && out.value) {
    const over = size(out) - limit;
    out = { ...out, value: cut(out.value!, out.value!.length - over - reserve) };
    truncated.push('value');
  }
  if (size(out) > limit && out.key) {
    const over = size(out) - limit;
    out = { ...out, key: cut(out.key!, out.key!.length - over - reserve) };
    truncated.push('key');
  }
  if (size(out) > limit && Buffer.byteLength(headers[DLQ_HEADERS.message] ?? '', 'utf8') > 256) {
    // A tiny topic limit: the error message goes down to its first 256 bytes too.
    headers[DLQ_HEADERS.message] = cut(Buffer.from(headers[DLQ_HEADERS.message] ?? '', 'utf8'), 256).toString('utf8');
    if (!truncated.includes(DLQ_HEADERS.message)) truncated.unshift(DLQ_HEADERS.message);
  }
  headers[DLQ_TRUNCATED_HEADER] = truncated.join(',');
  if (truncated.length === 0) delete headers[DLQ_TRUNCATED_HEADER];
  return { ...out, headers };
}

/**
 * The record's own headers as strings, without error headers of an earlier dead-lettering (a
 * replayed record that fails again gets fresh ones). Kafka Connect keeps them the same way.
 */
export function originalHeaders(raw: RawHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || k.startsWith('__connect.errors.') || k === DLQ_TRUNCATED_HEADER) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first.toString();
  }
  return out;
}

/**
 * A record to dead-letter: its Kafka coordinates, the original bytes and headers as fetched, and why
 * it was rejected. Declared here (not taken from the sink contract) so the Kafka layer does not depend
 * on src/sinks; a sink's `RejectedRecord` has this shape.
 */
export interface DeadLetter {
  readonly record: {
    readonly topic: string;
    readonly partition: number;
    /** Kafka offset, decimal string. */
    readonly offset: string;
    readonly raw: { readonly key: Buffer | null; readonly value: Buffer | null; readonly headers?: RawHeaders };
  };
  readonly error: Error;
}

export class DlqProducer {
  private producer: Producer | undefined;
  private limit = BROKER_DEFAULT_MAX_MESSAGE_BYTES;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly sinkName: string,
    private readonly size: DlqSizeOptions = { maxRequestSize: 1048576 },
    private readonly partitions = 1,
  ) {}

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    const created = this.size.topicMaxMessageBytes ?? this.size.maxRequestSize;
    await admin.connect();
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(this.topic)) {
        await admin.createTopics({
          topics: [{ topic: this.topic, numPartitions: this.partitions, configEntries: [{ name: 'max.message.bytes', value: String(created) }] }],
          waitForLeaders: true,
        });
      }
      const own = (await readMaxMessageBytes(admin, [this.topic], created)).get(this.topic) ?? created;
      this.limit = Math.min(own, this.size.maxRequestSize);
    } finally {
      await admin.disconnect();
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
  }

  /** The largest record batch sent to the DLQ topic (its max.message.bytes, capped by max.request.size). */
  get batchLimit(): number {
    return this.limit;
  }

  async send(rejected: readonly DeadLetter[]): Promise<void> {
    if (rejected.length === 0) return;
    if (!this.producer) throw new Error('DlqProducer.send before start()');
    const messages = rejected.map(({ record, error }) => {
      const headers: Record<string, string> = {
        // The original headers first (the event's position among them: a replay needs it), then ours.
        ...originalHeaders(record.raw.headers),
        [DLQ_HEADERS.className]: error.name || 'Error',
        [DLQ_HEADERS.message]: error.message,
        [DLQ_HEADERS.topic]: record.topic,
        [DLQ_HEADERS.partition]: String(record.partition),
        [DLQ_HEADERS.offset]: record.offset,
        [DLQ_HEADERS.sink]: this.sinkName,
      };
      return fitDlqMessage({ topic: this.topic, key: record.raw.key, value: record.raw.value, headers }, this.limit);
    });
    for (const chunk of splitBySize(messages, this.size.maxRequestSize, () => this.limit)) {
      try {
        await this.producer.send({
          topic: this.topic,
          acks: -1,
          messages: chunk.map((m) => ({ key: m.key, value: m.value, headers: m.headers as IHeaders })),
        });
      } catch (e) {
        throw new KafkaOperationError(`dead-letter produce to ${this.topic}`, e);
      }
    }
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}
