/**
 * The source's transactional producer, behind four calls: begin-implicit `send`, `commit`, `abort`,
 * `close`. Callers never see the client library.
 *
 * It runs on @platformatic/kafka, not kafkajs: in `npm run bench:source` kafkajs' record encoding
 * (CRC32C in JS, per-message buffers) was ~40 % of the source's CPU and capped PG→Kafka below the
 * 30,000 events/s bar; the same transactional workload produced ~2× faster with @platformatic/kafka
 * (bench/results/source.json names the client). Sinks still consume with kafkajs (src/kafka/consumer.ts).
 *
 * Exactly-once rules it keeps: idempotent producer, a stable transactionalId, acks=all, partitions by
 * the Java-compatible murmur2 of the key (the partition Debezium/Kafka Connect would pick). `connect`
 * initialises the transactional id at once, which fences an older instance and makes the broker
 * abort a transaction it left open. A second process with the same transactionalId bumps the epoch;
 * the broker then refuses this one (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH) and we raise
 * ProducerFencedError, which callers treat as fatal: stop, never retry.
 */
import { compatibilityPartitioner, stringSerializers, type Producer, type MessageToProduce, type ProducerOptions } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeTlsOptions } from '../spec/tls.js';
import type { Logger } from '../observability/logger.js';
import type { KafkaConfig } from './config.js';
import { brokerCode, connectionSettingsProblem, findInError, KafkaOperationError } from './errors.js';
import { recordSizeBound, splitBySize } from './record-size.js';
import { createSourceProducer, dispatchTracker, pipelineRequested, type DispatchTracker } from './single-buffer-producer.js';

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
        `(transactionalId) and took over; its open transaction was aborted, so nothing of it is visible to read_committed readers. ` +
        `This instance stops to avoid duplicate writes (a daemon then waits as standby; see docs/ha.md).`,
      { cause },
    );
    this.name = 'ProducerFencedError';
  }
}

const FENCED_TYPES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

/** True when the error (or any error it wraps: cause chain, aggregated errors) says this producer was fenced. */
export function isFencedError(err: unknown): boolean {
  return (
    findInError(err, (o) =>
      (typeof o.type === 'string' && FENCED_TYPES.has(o.type)) ||
      (typeof o.apiId === 'string' && FENCED_TYPES.has(o.apiId)) ||
      o.name === 'ProducerFencedError' ||
      (typeof o.message === 'string' && /fenced|producer epoch|INVALID_PRODUCER_EPOCH/i.test(o.message))
        ? true
        : undefined,
    ) === true
  );
}

export interface TransactionalProducerOptions {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  /** Retries and their causes go here (Kafka down: warn; CONCURRENT_TRANSACTIONS after a commit: debug). */
  readonly logger?: Logger;
  /**
   * Largest record batch a topic accepts (its max.message.bytes, capped by max.request.size);
   * default: max.request.size for every topic.
   */
  readonly batchLimit?: (topic: string) => number;
}

type Client = Producer<string, string, string, string>;

type Transaction = Awaited<ReturnType<Client['beginTransaction']>>;

/**
 * Produce requests of one transaction that may await the broker's acknowledgement at once. Kafka
 * keeps the order of an idempotent producer's batches by their sequence numbers for up to 5 in
 * flight per partition (the Java client's max.in.flight.requests.per.connection bound).
 */
export const MAX_UNACKED_SENDS = 4;

/**
 * Retry delay: 5 ms doubling to 2 s with ±20 % jitter. Fast first retries matter: right after a
 * commit the coordinator answers CONCURRENT_TRANSACTIONS until its markers are written.
 */
export function retryDelayMs(attempt: number): number {
  const base = Math.min(2000, 5 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** `onSettingsProblem` hears of failures retrying cannot fix (refused SASL credentials, a certificate that does not verify). */
export function producerOptions(config: KafkaConfig, opts: TransactionalProducerOptions, onSettingsProblem: (problem: string) => void = () => undefined): ProducerOptions<string, string, string, string> {
  const log = opts.logger?.child({ component: 'kafka-producer' });
  return {
    clientId: config['client.id'],
    bootstrapBrokers: config['bootstrap.servers'].split(',').map((s) => s.trim()).filter(Boolean),
    serializers: stringSerializers,
    idempotent: true,
    transactionalId: opts.transactionalId,
    // InitProducerId must say "no producer yet" (-1/-1), as the Java client does: this client's
    // default (0/0) names a producer that does not exist and a restarted instance is refused
    // as fenced.
    producerId: -1n,
    producerEpoch: -1,
    partitioner: compatibilityPartitioner,
    autocreateTopics: false,
    // This client sends `timeout` as the transaction timeout in InitProducerId (and as the produce
    // request's broker-side ack timeout): the connector's kafka.transaction.timeout.ms.
    timeout: opts.transactionTimeoutMs,
    requestTimeout: config['request.timeout.ms'],
    connectTimeout: config['connection.timeout.ms'],
    // Retry retriable errors without a cap: while Kafka is down the chain waits, the publisher's
    // queue fills and replication pauses (backpressure) — nothing is dropped. A transaction that
    // outlives the transaction timeout is aborted by the broker; we then fail and restart.
    retries: Number.MAX_SAFE_INTEGER,
    retryDelay: (_client, operation, attempt, _retries, error) => {
      const problem = connectionSettingsProblem(error);
      if (problem) onSettingsProblem(problem);
      const code = brokerCode(error);
      const fields = { operation, attempt, code: code || undefined, err: error.message };
      if (code === 'CONCURRENT_TRANSACTIONS' || attempt < 3) log?.debug(fields, 'Kafka request failed; retrying');
      else if (attempt === 3 || attempt % 30 === 0) log?.warn(fields, 'Kafka request keeps failing; retrying (replication waits meanwhile)');
      return retryDelayMs(attempt);
    },
    ...tlsOption(config),
    ...(config.sasl
      ? { sasl: { mechanism: ({ plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const)[config.sasl.mechanism], username: config.sasl.username, password: config.sasl.password } }
      : {}),
  };
}

function tlsOption(config: KafkaConfig): Pick<ProducerOptions<string, string, string, string>, 'tls'> {
  const tls = nodeTlsOptions(config.tls);
  return tls ? { tls } : {};
}

/** Headers as the Map the client uses as is (from a plain object it builds one via Object.entries). */
function headerMap(h: Readonly<Record<string, string>>): Map<string, string> {
  const m = new Map<string, string>();
  for (const k in h) m.set(k, h[k] as string);
  return m;
}

export class TransactionalProducer {
  private readonly producer: Client;
  private tx: Transaction | null = null;
  /** The open transaction has records (an empty one is cancelled, not ended on the broker). */
  private txHasRecords = false;
  private fenced = false;
  /**
   * Rejects once the client meets a failure retrying cannot fix (SASL refused, certificate does not
   * verify): every operation fails with it instead of waiting on the library's endless retries.
   */
  private readonly settingsProblem: Promise<never>;
  private reportSettingsProblem: (problem: string) => void = () => undefined;

  private readonly maxRequestSize: number;
  private readonly batchLimit: (topic: string) => number;
  private readonly requestTimeoutMs: number;
  private readonly dispatch: DispatchTracker | null;
  /** Pipelined sends of the open transaction not yet acknowledged (each settles itself out of the set). */
  private readonly unacked = new Set<Promise<void>>();
  /** The first pipelined send that failed after its `send` returned. */
  private sendFailure: { readonly err: unknown } | null = null;

  constructor(
    config: KafkaConfig,
    private readonly opts: TransactionalProducerOptions,
  ) {
    this.maxRequestSize = config['max.request.size'];
    this.batchLimit = opts.batchLimit ?? (() => config['max.request.size']);
    this.settingsProblem = new Promise<never>((_, reject) => {
      this.reportSettingsProblem = (problem) => reject(new Error(problem));
    });
    this.settingsProblem.catch(() => undefined);
    const options = producerOptions(config, opts, (problem) => this.reportSettingsProblem(problem));
    this.producer = createSourceProducer(options);
    this.dispatch = pipelineRequested() ? dispatchTracker(this.producer) : null;
    this.requestTimeoutMs = config['request.timeout.ms'];
  }

  /**
   * Initialises the transactional id NOW (InitProducerId), which fences any older instance and
   * makes the broker finish (abort) a transaction it left open. Without this, a zombie that has
   * not sent yet could initialise later and fence the NEW instance.
   */
  async connect(): Promise<void> {
    await this.guard('transactional producer init (InitProducerId)', async () => {
      const probe = await this.producer.beginTransaction();
      await probe.cancel();
    });
  }

  get inTransaction(): boolean {
    return this.tx !== null;
  }

  /**
   * True when sends are pipelined (CDC_FANOUT_KAFKA_PIPELINE=on, with our encoder): `send` returns
   * once its requests have taken their sequence numbers and gone to the connection, and up to
   * MAX_UNACKED_SENDS await the broker's ack while the caller builds the next; `commit` waits for
   * them all. Otherwise (the default) every send waits for its ack.
   */
  get pipelined(): boolean {
    return this.dispatch !== null;
  }

  /**
   * Sends records inside the current transaction, opening one if needed. Records go out in order,
   * in as many Produce requests as needed so no request exceeds max.request.size and no
   * per-partition record batch exceeds its topic's limit (several requests in one Kafka
   * transaction commit or abort together). `bytes`, if given, is Σ recordSizeBound(records).
   *
   * Invariant (order): a send starts only after the previous one took its sequence numbers and all
   * its requests were handed to their connections (DispatchTracker), so within a partition sequence
   * order is call order and so is the order requests reach the partition's leader,
   * and the broker appends an idempotent producer's batches in sequence order only (a gap is
   * refused, never skipped). A send that fails after returning fails the next `send` or `commit`.
   */
  async send(records: readonly KafkaRecord[], bytes?: number): Promise<void> {
    if (records.length === 0) return;
    const chunks = this.split(records, bytes);
    await this.guard('produce', async () => {
      this.throwIfSendFailed();
      this.tx ??= await this.producer.beginTransaction();
      for (const chunk of chunks) {
        const messages: MessageToProduce<string, string, string, string>[] = new Array(chunk.length);
        for (let i = 0; i < chunk.length; i++) {
          const r = chunk[i] as KafkaRecord;
          messages[i] = { topic: r.topic, key: r.key ?? undefined, value: r.value ?? undefined, headers: r.headers && headerMap(r.headers) };
        }
        this.txHasRecords = true;
        if (!this.dispatch) {
          await this.tx.send({ messages });
          continue;
        }
        while (this.unacked.size >= MAX_UNACKED_SENDS) await Promise.race(this.unacked);
        this.throwIfSendFailed();
        const dispatched = this.dispatch.next(messages.length);
        const acked: Promise<void> = this.tx.send({ messages }).then(
          () => {
            this.unacked.delete(acked);
          },
          (err: unknown) => {
            this.unacked.delete(acked);
            this.sendFailure ??= { err };
          },
        );
        this.unacked.add(acked);
        await Promise.race([dispatched, acked]);
        this.throwIfSendFailed();
      }
    });
  }

  /** Every pipelined send of the open transaction was acknowledged (or one failed: throws it). */
  private async acknowledged(): Promise<void> {
    while (this.unacked.size > 0) await Promise.all(this.unacked);
    this.throwIfSendFailed();
  }

  private throwIfSendFailed(): void {
    if (this.sendFailure) throw this.sendFailure.err;
  }

  /**
   * `records` in request-sized chunks. With `bytes` (Σ recordSizeBound, known to the caller) the
   * common case — everything fits — costs one pass over the topics and no size computation.
   */
  private split(records: readonly KafkaRecord[], bytes?: number): readonly (readonly KafkaRecord[])[] {
    if (bytes !== undefined) {
      let limit = this.maxRequestSize;
      let topic = '';
      for (const r of records) {
        if (r.topic === topic) continue;
        topic = r.topic;
        limit = Math.min(limit, this.batchLimit(topic));
      }
      // Every topic's batch ≤ all records ≤ the smallest limit (with margin for the headers).
      if (bytes + 1024 <= limit) return [records];
    }
    const sizes: number[] = new Array(records.length);
    const first = (records[0] as KafkaRecord).topic;
    let oneTopic = true;
    let total = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as KafkaRecord;
      if (r.topic !== first) oneTopic = false;
      const size = recordSizeBound(r);
      sizes[i] = size;
      total += size;
    }
    // Margin for batch headers and the request's own fields (REQUEST_OVERHEAD and more).
    if (oneTopic && total + 1024 <= Math.min(this.maxRequestSize, this.batchLimit(first))) return [records];
    return splitBySize(records, this.maxRequestSize, this.batchLimit, sizes);
  }

  async commit(): Promise<void> {
    const tx = this.tx;
    if (!tx) return;
    await this.guard('transaction commit', async () => {
      await this.acknowledged();
      if (this.txHasRecords) await tx.commit();
      else await tx.cancel();
      this.tx = null;
      this.txHasRecords = false;
    });
  }

  async abort(): Promise<void> {
    const tx = this.tx;
    const hadRecords = this.txHasRecords;
    this.tx = null;
    this.txHasRecords = false;
    if (!tx || this.fenced) return;
    // A produce still on its way must not land after the abort marker: let the requests in flight
    // settle first (bounded: a broker that does not answer is cut off by close()).
    if (this.unacked.size > 0) await Promise.race([Promise.allSettled(this.unacked), sleep(this.requestTimeoutMs, undefined, { ref: false })]);
    this.unacked.clear();
    this.sendFailure = null;
    await (hadRecords ? tx.abort() : tx.cancel()).catch(() => tx.cancel().catch(() => undefined));
  }

  async close(): Promise<void> {
    await this.abort();
    await new Promise<void>((resolve) => this.producer.close(true, () => resolve()));
  }

  /** Runs a Kafka operation; a failure becomes ProducerFencedError or a KafkaOperationError naming the broker code and the fix. */
  private async guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.fenced) throw new ProducerFencedError(this.opts.transactionalId, undefined);
    try {
      return await Promise.race([fn(), this.settingsProblem]);
    } catch (err) {
      if (isFencedError(err)) {
        this.fenced = true;
        this.tx = null;
        throw new ProducerFencedError(this.opts.transactionalId, err);
      }
      throw new KafkaOperationError(`${operation} (transactional id ${this.opts.transactionalId})`, err);
    }
  }
}
