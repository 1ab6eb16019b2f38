/**
 * Dead-letter producer for sinks (errors.tolerance=dlq). Sends the original key/value with the
 * Kafka Connect error headers; `send` resolves only once the brokers acknowledged (acks=all,
 * idempotent), so the runtime can commit the batch's offsets after it — a rejected record is never
 * lost between the sink and the DLQ.
 */
import type { IHeaders, Kafka, Producer } from 'kafkajs';
import type { RejectedRecord } from '../sinks/sink.js';

export const DLQ_HEADERS = {
  className: '__connect.errors.class.name',
  message: '__connect.errors.exception.message',
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  sink: '__connect.errors.connector.name',
} as const;

export class DlqProducer {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly sinkName: string,
    private readonly partitions = 1,
  ) {}

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(this.topic)) {
        await admin.createTopics({ topics: [{ topic: this.topic, numPartitions: this.partitions }], waitForLeaders: true });
      }
    } finally {
      await admin.disconnect();
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
  }

  async send(rejected: readonly RejectedRecord[]): Promise<void> {
    if (rejected.length === 0) return;
    if (!this.producer) throw new Error('DlqProducer.send before start()');
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: rejected.map(({ record, error }) => {
        const headers: IHeaders = {
          [DLQ_HEADERS.className]: error.name || 'Error',
          [DLQ_HEADERS.message]: error.message,
          [DLQ_HEADERS.topic]: record.topic,
          [DLQ_HEADERS.partition]: String(record.partition),
          [DLQ_HEADERS.offset]: record.offset,
          [DLQ_HEADERS.sink]: this.sinkName,
        };
        return { key: record.raw.key, value: record.raw.value, headers };
      }),
    });
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}
