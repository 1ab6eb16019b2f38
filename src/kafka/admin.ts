/**
 * Topic creation for the source: data topics on first sight (with their cleanup.policy, compact by
 * default, see topic.cleanup.policy), the compacted offsets topic at start;
 * and each topic's record batch limit (max.message.bytes), which sends are split to respect.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { KafkaConfig } from './config.js';
import { BROKER_DEFAULT_MAX_MESSAGE_BYTES } from './record-size.js';

export interface TopicDefaults {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** max.message.bytes for topics we create (default: maxRequestSize). */
  readonly maxMessageBytes?: number;
  /** The producer's max.request.size: no batch limit is above it. */
  readonly maxRequestSize?: number;
  /** min.compaction.lag.ms for data topics created compacted (not the offsets topic). */
  readonly minCompactionLagMs?: number;
}

/** kafkajs' ConfigResourceTypes.TOPIC (the enum is not exported as an ES module binding). */
const TOPIC_RESOURCE = 2;

export function topicDefaults(config: KafkaConfig): TopicDefaults {
  return {
    partitions: config['topic.creation.partitions'],
    replicationFactor: config['topic.creation.replication.factor'],
    maxMessageBytes: config['topic.creation.max.message.bytes'] ?? config['max.request.size'],
    maxRequestSize: config['max.request.size'],
    minCompactionLagMs: config['topic.creation.min.compaction.lag.ms'],
  };
}

/**
 * The max.message.bytes of each topic (effective value: the topic's own, or the broker default),
 * `fallback` for a topic whose value cannot be read (no DescribeConfigs permission).
 */
export async function readMaxMessageBytes(admin: Admin, topics: readonly string[], fallback: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (topics.length === 0) return out;
  try {
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['max.message.bytes'] })) });
    for (const r of res.resources) {
      const v = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (r.errorCode === 0 && Number.isFinite(v) && v > 0) out.set(r.resourceName, v);
    }
  } catch {
    // No permission / old broker: fall back below.
  }
  for (const t of topics) if (!out.has(t)) out.set(t, fallback);
  return out;
}

export class TopicAdmin {
  private readonly admin: Admin;
  private readonly known = new Set<string>();
  /** max.message.bytes per topic we ensured (read from the broker). */
  private readonly limits = new Map<string, number>();
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly defaults: TopicDefaults,
  ) {
    this.admin = kafka.admin();
  }

  /**
   * cleanup.policy for a topic this admin creates (data topics: the record builder's
   * cleanupPolicyOfTopic); undefined leaves the broker default (delete, for the message,
   * transaction and heartbeat topics, whose records have null keys).
   */
  cleanupPolicyOf: ((topic: string) => string | undefined) | undefined;

  async connect(): Promise<void> {
    if (!this.connected) await this.admin.connect();
    this.connected = true;
    for (const t of await this.admin.listTopics()) this.known.add(t);
  }

  /**
   * Creates missing topics (with max.message.bytes from the defaults; existing ones are left alone)
   * and reads every new topic's max.message.bytes, which `batchLimit` then respects.
   */
  async ensureTopics(topics: Iterable<string>, compacted = false, partitions?: number): Promise<void> {
    const wanted = [...new Set(topics)];
    const missing = wanted.filter((t) => !this.known.has(t));
    const created = this.defaults.maxMessageBytes;
    if (missing.length > 0) {
      const policyOf = (topic: string): string | undefined => (compacted ? 'compact' : this.cleanupPolicyOf?.(topic));
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => {
          const policy = policyOf(topic);
          // Invariant: a compacted DATA topic keeps every event for minCompactionLagMs, so a sink
          // lagging less than that never meets an unchanged-TOAST update whose full row was compacted
          // away (the offsets topic, compacted=true, has no such events and compacts at once).
          const lag = !compacted && policy?.includes('compact') && this.defaults.minCompactionLagMs ? this.defaults.minCompactionLagMs : undefined;
          return {
            topic,
            numPartitions: partitions ?? this.defaults.partitions,
            replicationFactor: this.defaults.replicationFactor,
            configEntries: [
              ...(policy ? [{ name: 'cleanup.policy', value: policy }] : []),
              ...(lag ? [{ name: 'min.compaction.lag.ms', value: String(lag) }] : []),
              ...(created ? [{ name: 'max.message.bytes', value: String(created) }] : []),
            ],
          };
        }),
      });
      for (const t of missing) this.known.add(t);
    }
    const unread = wanted.filter((t) => !this.limits.has(t));
    const read = await readMaxMessageBytes(this.admin, unread, created ?? BROKER_DEFAULT_MAX_MESSAGE_BYTES);
    for (const [t, v] of read) this.limits.set(t, v);
  }

  /** The compacted single-partition offsets topic (one partition keeps one total order). */
  async ensureOffsetsTopic(topic: string): Promise<void> {
    await this.ensureTopics([topic], true, 1);
  }

  /** The topic's max.message.bytes as read (topics never ensured: the Kafka default). */
  maxMessageBytes(topic: string): number {
    return this.limits.get(topic) ?? BROKER_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Largest record batch to send to `topic`: its max.message.bytes, capped by max.request.size. */
  batchLimit(topic: string): number {
    const own = this.maxMessageBytes(topic);
    return this.defaults.maxRequestSize ? Math.min(own, this.defaults.maxRequestSize) : own;
  }

  async highWatermark(topic: string): Promise<bigint> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((max, p) => (BigInt(p.high) > max ? BigInt(p.high) : max), 0n);
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
    this.connected = false;
  }
}
