/**
 * Offsets in ClickHouse: the checkpoint table `checkpoint.table`, rows (group, topic, partition,
 * offset, updated_at) in a ReplacingMergeTree(updated_at) ordered by (group, topic, partition); a
 * commit appends, `load` reads the row with the highest `updated_at` (argMax), so the latest write
 * wins whether or not a merge ran. `group` is `checkpoint.group` (default: the sink's consumer group).
 *
 * Implements `OffsetStore` (src/sinks/sink.ts) with its invariants:
 *   M. A commit at or below what this instance last loaded or committed for a partition is ignored
 *      (no row): the table cannot compare-and-set, so the floor is this instance's; the consumer
 *      group gives the partition one owner and the runtime loads before it commits.
 *   A. The sink commits only after the batch's inserts were acknowledged; rows are versioned
 *      (ReplacingMergeTree(_version)), so the replay after a crash in between collapses under FINAL.
 *   R. `reset(to)` appends the given offsets with a newer `updated_at`, backwards included.
 * `updated_at` is microseconds since the epoch, strictly increasing within an instance.
 */
import type { OffsetStore, PartitionOffset, TopicPartition } from '../sink.js';
import { SinkError } from '../sink.js';
import { DataError, type Conn } from './conn.js';
import { escapeTsv, quoteString, unescapeTsv } from './encode.js';

const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

export class CheckpointTable implements OffsetStore {
  private lastVersion = 0n;
  /** Per partition: the offset this instance last loaded or committed (the floor of M). */
  private readonly known = new Map<string, bigint>();

  constructor(
    private readonly conn: () => Conn,
    /** `db`.`table`, quoted. */
    private readonly ref: string,
    private readonly group: string,
  ) {}

  async ensure(): Promise<void> {
    await this.conn().command(
      `CREATE TABLE IF NOT EXISTS ${this.ref} (\`group\` String, \`topic\` String, \`partition\` UInt32, \`offset\` UInt64, \`updated_at\` UInt64) ENGINE = ReplacingMergeTree(\`updated_at\`) ORDER BY (\`group\`, \`topic\`, \`partition\`)`,
      'create checkpoint table',
    );
  }

  async load(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    if (partitions.length === 0) return [];
    const topics = [...new Set(partitions.map((p) => p.topic))];
    const r = await this.conn().queryTsv(
      `SELECT \`topic\`, \`partition\`, argMax(\`offset\`, \`updated_at\`) AS last FROM ${this.ref} WHERE \`group\` = ${quoteString(this.group)} AND \`topic\` IN (${topics.map(quoteString).join(', ')}) GROUP BY \`topic\`, \`partition\``,
      'load offsets',
    );
    const found = new Map(r.rows.map((row) => [`${unescapeTsv(row[0] ?? '')}\u0000${row[1]}`, row[2] ?? '0']));
    const out: PartitionOffset[] = [];
    for (const p of partitions) {
      const offset = found.get(tpKey(p));
      if (offset === undefined) {
        this.known.delete(tpKey(p));
        continue;
      }
      this.known.set(tpKey(p), BigInt(offset));
      out.push({ topic: p.topic, partition: p.partition, offset });
    }
    return out;
  }

  /** INVARIANT M: offsets at or below this instance's floor are ignored. */
  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.append(
      offsets.filter((o) => {
        const had = this.known.get(tpKey(o));
        return had === undefined || BigInt(o.offset) > had;
      }),
    );
  }

  /** INVARIANT R: exactly these offsets, backwards included. */
  reset(to: readonly PartitionOffset[]): Promise<void> {
    return this.append(to);
  }

  private async append(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const now = BigInt(Date.now()) * 1000n;
    this.lastVersion = now > this.lastVersion ? now : this.lastVersion + 1n;
    const lines = offsets.map((o) => [escapeTsv(this.group), escapeTsv(o.topic), String(o.partition), BigInt(o.offset).toString(), this.lastVersion.toString()].join('\t'));
    try {
      await this.conn().insertTsv(this.ref, ['group', 'topic', 'partition', 'offset', 'updated_at'], lines);
    } catch (e) {
      if (e instanceof DataError) throw new SinkError(`cannot store offsets: ${e.message}`, { retriable: false, cause: e });
      throw e;
    }
    for (const o of offsets) this.known.set(tpKey(o), BigInt(o.offset));
  }

  /** Forget the floors (the table was emptied behind this instance's back, e.g. by a test). */
  forget(): void {
    this.known.clear();
  }
}
