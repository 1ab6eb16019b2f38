/**
 * A small transactional producer around kafkajs, so a maintained client can replace it behind the
 * same four calls: begin-implicit `send`, `commit`, `abort`, `close`.
 *
 * Exactly-once rules it keeps: idempotent, one request in flight, a stable transactionalId. A second
 * process with the same transactionalId bumps the producer epoch; the broker then refuses this one
 * (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH) and we raise ProducerFencedError, which callers treat
 * as fatal: stop, never retry.
 */
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type Transaction } from 'kafkajs';

export interface KafkaRecord {
  readonly topic: string;
  /** Serialized key (JSON text) or null. */
  readonly key: string | null;
  /** Serialized value (JSON text) or null for a tombstone. */
  readonly value: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export class ProducerFencedError extends Error {
  constructor(transactionalId: string, cause: unknown) {
    super(
      `Kafka producer "${transactionalId}" was fenced: another process started with the same connector name ` +
        `(transactionalId). This instance stops to avoid duplicate writes; run only one instance per connector.`,
      { cause },
    );
    this.name = 'ProducerFencedError';
  }
}

const FENCED_TYPES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

/** True when the error (or any cause in its chain) says this producer was fenced. */
export function isFencedError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; depth++) {
    const o = e as { type?: unknown; name?: unknown; message?: unknown; originalError?: unknown; cause?: unknown };
    if (typeof o.type === 'string' && FENCED_TYPES.has(o.type)) return true;
    if (o.name === 'ProducerFencedError') return true;
    if (typeof o.message === 'string' && /fenced|producer epoch|INVALID_PRODUCER_EPOCH/i.test(o.message)) return true;
    e = o.originalError ?? o.cause;
  }
  return false;
}

export interface TransactionalProducerOptions {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
}

export class TransactionalProducer {
  private readonly producer: Producer;
  private tx: Transaction | null = null;
  private fenced = false;

  constructor(
    kafka: Kafka,
    private readonly opts: TransactionalProducerOptions,
  ) {
    this.producer = kafka.producer({
      transactionalId: opts.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: opts.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // Retry retriable errors without a cap (backoff ≤ 2 s): while Kafka is down the chain waits,
      // the queue fills and replication pauses (backpressure) — nothing is dropped. A transaction
      // that outlives transaction.timeout.ms is aborted by the broker; we then fail and restart.
      retry: { initialRetryTime: 5, maxRetryTime: 2000, retries: Number.MAX_SAFE_INTEGER },
      // Java-compatible murmur2 on the key: all changes of a row land in one partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  /**
   * Connects and initialises the transactional id NOW, which fences any older instance and makes
   * the broker finish (abort) a transaction it left open. kafkajs only initialises its
   * transactional state on the first `transaction()` call — a zombie that has not sent yet would
   * then re-initialise and fence the NEW instance — so we open and abort an empty transaction here.
   */
  async connect(): Promise<void> {
    await this.guard(async () => {
      await this.producer.connect();
      const probe = await this.producer.transaction();
      await probe.abort();
    });
  }

  get inTransaction(): boolean {
    return this.tx !== null;
  }

  /** Sends records inside the current transaction, opening one if needed. */
  async send(records: readonly KafkaRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.guard(async () => {
      this.tx ??= await this.producer.transaction();
      const byTopic = new Map<string, Message[]>();
      for (const r of records) {
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push({ key: r.key, value: r.value, headers: r.headers as Record<string, string> | undefined });
      }
      await this.tx.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        compression: CompressionTypes.None,
      });
    });
  }

  async commit(): Promise<void> {
    const tx = this.tx;
    if (!tx) return;
    await this.guard(async () => {
      await tx.commit();
      this.tx = null;
    });
  }

  async abort(): Promise<void> {
    const tx = this.tx;
    this.tx = null;
    if (!tx || this.fenced) return;
    await tx.abort().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.abort();
    await this.producer.disconnect().catch(() => undefined);
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.fenced) throw new ProducerFencedError(this.opts.transactionalId, undefined);
    try {
      return await fn();
    } catch (err) {
      if (isFencedError(err)) {
        this.fenced = true;
        this.tx = null;
        throw new ProducerFencedError(this.opts.transactionalId, err);
      }
      throw err;
    }
  }
}
