/**
 * The default offset store, for sinks whose target has no transactional place to keep offsets
 * (HTTP webhooks, object storage): Kafka consumer-group offsets, committed after the batch's effects
 * were acknowledged by the target.
 *
 * GUARANTEE — at-least-once, with a stable idempotency key per event:
 *   - `commit(offsets)` is called by the runtime only after `write(batch)` returned, i.e. after the
 *     target acknowledged every effect of the batch. A crash between the two (kill -9, OOM, network
 *     loss to Kafka) leaves the stored offset behind, so the batch is delivered AGAIN after a restart.
 *     Nothing is ever skipped: an offset is never stored before its effects are acknowledged.
 *   - Duplicates are therefore possible, and only those: a re-delivered event is the same Kafka
 *     record, so a sink using this store must send a key derived from the record's position
 *     (topic/partition/offset) that is identical on every replay. The target (receiver) dedupes by
 *     that key — it is the target's half of "effectively once".
 *   - Order is not weakened by a replay: a partition is re-read from the stored offset in order, so a
 *     key's events are re-sent in the order they were first sent, and nothing newer than the replayed
 *     range was sent before (the runtime writes a partition's next chunk only after this commit).
 * A sink whose target CAN store offsets atomically with the effects (a checkpoint row in the same
 * transaction, Redis MULTI/EXEC) should do that instead: that gives exactly-once effects without
 * relying on the target to dedupe (see docs/writing-a-sink.md, "Offset stores").
 *
 * Where: the offsets are committed (OffsetCommit, generation -1) to a consumer group of their own,
 * `<group.id>.offsets`, which never has members — Kafka accepts such "simple" commits only for a
 * group without live members, and the sink's consuming group always has one (the runner's consumer).
 * Kafka's `__consumer_offsets` topic makes them durable (replicated, acks=all) before answering.
 * The consuming group's offsets, which the runtime commits after each batch for lag tools, are never
 * ahead of this store (they are committed after it); `load` falls back to them when this group has
 * none (e.g. its offsets expired: Kafka drops a member-less group's offsets `offsets.retention.minutes`
 * — 7 days by default — after its last commit, so a partition idle that long falls back). Both
 * missing = never consumed.
 *
 * INVARIANT M (src/sinks/sink.ts `OffsetStore`): a commit below the offset this instance loaded or
 * committed for a partition is IGNORED (Kafka's OffsetCommit itself would take any value; the
 * consumer group gives the partition one owner, and the runtime loads before it commits).
 * INVARIANT R: `reset(to)` writes exactly the given offsets, backwards included, and becomes the
 * instance's floor — `cdc-fanout reset-offsets` calls it with the daemon stopped.
 */
import { Admin, type AdminOptions, type ListConsumerGroupOffsetsGroup } from '@platformatic/kafka';
import { nodeTlsOptions } from '../../spec/tls.js';
import type { KafkaConfig } from '../../kafka/config.js';
import { describeKafkaError } from '../../kafka/errors.js';
import { SinkError, type OffsetStore, type PartitionOffset, type TopicPartition } from '../sink.js';

/** An `OffsetStore` a sink owns and closes (the default store holds a Kafka admin connection). */
export interface ClosableOffsetStore extends OffsetStore {
  close(): Promise<void>;
}

/** The member-less group this store writes for a sink's consumer group. */
export const offsetsGroupOf = (consumerGroup: string): string => `${consumerGroup}.offsets`;

/** The broker's answer inside the client's wrapper errors (e.g. UNKNOWN_TOPIC_OR_PARTITION). */
function why(e: unknown): string {
  const d = describeKafkaError(e);
  return d.message;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function adminOptions(config: KafkaConfig, clientId: string): AdminOptions {
  return {
    clientId: `${config['client.id']}-${clientId}`,
    bootstrapBrokers: config['bootstrap.servers'].split(',').map((s) => s.trim()).filter(Boolean),
    timeout: config['request.timeout.ms'],
    connectTimeout: config['connection.timeout.ms'],
    // The runtime retries a failed commit/load with its own backoff (retriable SinkError).
    retries: 2,
    ...tlsOption(config),
    ...(config.sasl
      ? { sasl: { mechanism: ({ plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const)[config.sasl.mechanism], username: config.sasl.username, password: config.sasl.password } }
      : {}),
  };
}

/** The brokers' TLS as the other Kafka clients build it (the `kafka.tls` group). */
function tlsOption(config: KafkaConfig): Pick<AdminOptions, 'tls'> {
  const tls = nodeTlsOptions(config.tls);
  return tls ? { tls } : {};
}

export class KafkaGroupOffsetStore implements ClosableOffsetStore {
  private admin: Admin | undefined;
  /** Highest offset this instance loaded or committed per partition (monotonic commits). */
  private readonly known = new Map<string, bigint>();
  /** Commits go one at a time, in call order (an older commit never lands after a newer one). */
  private chain: Promise<unknown> = Promise.resolve();
  readonly group: string;

  constructor(
    private readonly kafka: KafkaConfig,
    /** The sink's consuming group (`group.id`); offsets go to `<group>.offsets`. */
    private readonly consumerGroup: string,
  ) {
    this.group = offsetsGroupOf(consumerGroup);
  }

  private client(): Admin {
    this.admin ??= new Admin(adminOptions(this.kafka, 'offsets'));
    return this.admin;
  }

  async load(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    if (partitions.length === 0) return [];
    const byTopic = new Map<string, number[]>();
    for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
    const topics = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
    let groups: ListConsumerGroupOffsetsGroup[];
    try {
      groups = await this.client().listConsumerGroupOffsets({ groups: [this.group, this.consumerGroup].map((groupId) => ({ groupId, topics })) });
    } catch (e) {
      throw new SinkError(`reading offsets of consumer group ${this.group} from Kafka failed: ${why(e)}`, { retriable: true, cause: e });
    }
    const found = (groupId: string): Map<string, bigint> => {
      const out = new Map<string, bigint>();
      for (const t of groups.find((g) => g.groupId === groupId)?.topics ?? []) {
        for (const p of t.partitions) if (p.committedOffset >= 0n) out.set(tpKey(t.name, p.partitionIndex), p.committedOffset);
      }
      return out;
    };
    const own = found(this.group);
    const consuming = found(this.consumerGroup);
    const out: PartitionOffset[] = [];
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      const offset = own.get(key) ?? consuming.get(key);
      if (offset === undefined) {
        this.known.delete(key);
        continue;
      }
      this.known.set(key, offset);
      out.push({ topic, partition, offset: offset.toString() });
    }
    return out;
  }

  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    const run = this.chain.then(() => this.commitNow(offsets));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** INVARIANT R: exactly these offsets, backwards included (one owner: the CLI, daemon stopped). */
  reset(to: readonly PartitionOffset[]): Promise<void> {
    const run = this.chain.then(() => this.storeOffsets(to));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async commitNow(offsets: readonly PartitionOffset[]): Promise<void> {
    // INVARIANT M: a partition's stored offset only moves forward; an older (or equal) commit is ignored.
    const moving = offsets.filter((o) => {
      const had = this.known.get(tpKey(o.topic, o.partition));
      return had === undefined || BigInt(o.offset) > had;
    });
    await this.storeOffsets(moving);
  }

  private async storeOffsets(moving: readonly PartitionOffset[]): Promise<void> {
    if (moving.length === 0) return;
    const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
    for (const o of moving) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: BigInt(o.offset) });
      byTopic.set(o.topic, list);
    }
    try {
      await this.client().alterConsumerGroupOffsets({ groupId: this.group, topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })) });
    } catch (e) {
      throw new SinkError(`committing offsets to consumer group ${this.group} failed: ${why(e)}`, { retriable: true, cause: e });
    }
    for (const o of moving) this.known.set(tpKey(o.topic, o.partition), BigInt(o.offset));
  }

  async close(): Promise<void> {
    await this.chain;
    const admin = this.admin;
    this.admin = undefined;
    this.known.clear();
    await admin?.close();
  }
}
