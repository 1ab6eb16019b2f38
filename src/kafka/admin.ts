/** Topic creation for the source: data topics on first sight, the compacted offsets topic at start. */
import type { Admin, Kafka } from 'kafkajs';

export interface TopicDefaults {
  readonly partitions: number;
  readonly replicationFactor: number;
}

export class TopicAdmin {
  private readonly admin: Admin;
  private readonly known = new Set<string>();
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly defaults: TopicDefaults,
  ) {
    this.admin = kafka.admin();
  }

  async connect(): Promise<void> {
    if (!this.connected) await this.admin.connect();
    this.connected = true;
    for (const t of await this.admin.listTopics()) this.known.add(t);
  }

  /** Creates missing topics (existing ones are left alone). */
  async ensureTopics(topics: Iterable<string>, compacted = false, partitions?: number): Promise<void> {
    const missing = [...new Set(topics)].filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: partitions ?? this.defaults.partitions,
        replicationFactor: this.defaults.replicationFactor,
        configEntries: compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
    for (const t of missing) this.known.add(t);
  }

  /** The compacted single-partition offsets topic (one partition keeps one total order). */
  async ensureOffsetsTopic(topic: string): Promise<void> {
    await this.ensureTopics([topic], true, 1);
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
