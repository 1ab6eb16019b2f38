/**
 * Offsets in ClickHouse: the checkpoint table `checkpoint.table`, rows (group, topic, partition,
 * offset, updated_at) in a ReplacingMergeTree(updated_at) ordered by (group, topic, partition); a
 * commit appends, `load` reads the row with the highest `updated_at` (argMax), so the latest write
 * wins whether or not a merge ran. `group` is `checkpoint.group` (default: the sink's consumer group).
 *
 * Implements `OffsetStore` (src/sinks/sink.ts) with its invariants:
 *   M. A commit at or below what this instance last loaded or committed for a partition is ignored
 *      (no row): the table cannot compare-and-set, so the floor is this instance's; the consumer
 *      group gives the partition one owner and the runtime loads before it commits. A queued (not
 *      yet durable) offset is never lowered by a later, smaller commit.
 *   A. The sink commits only after the batch's inserts were acknowledged; rows are versioned
 *      (ReplacingMergeTree(_version)), so the replay after a crash in between collapses under FINAL.
 *      commit() returns only once its offsets are durable.
 *   R. `reset(to)` appends the given offsets with a newer `updated_at`, backwards included (after any
 *      INSERT in flight, so it is the latest row).
 *
 * Part hygiene: the partitions' commits are written together — one INSERT carries every partition
 * whose commit arrived while the previous checkpoint INSERT ran or during `checkpoint.interval.ms`
 * after it — instead of one INSERT (one part) per batch per partition. Nothing is deferred past the
 * return: a partition's next batch waits for its checkpoint as before, so a crash replays at most
 * the batches whose commit() had not returned (see the invariants on `flush`).
 */
import type { OffsetStore, PartitionOffset, TopicPartition } from '../sink.js';
import { SinkError } from '../sink.js';
import { DataError, type Conn } from './conn.js';
import { escapeTsv, quoteString, unescapeTsv } from './encode.js';

const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class CheckpointTable implements OffsetStore {
  private lastVersion = 0n;
  /** Per partition: the offset this instance last loaded or durably committed (the floor of M). */
  private readonly known = new Map<string, bigint>();
  /** Offsets whose commit() waits for the next checkpoint INSERT, by topic/partition. */
  private readonly queue = new Map<string, PartitionOffset>();
  /** The flush the next commit() joins (not started yet), and the INSERT running now. */
  private next: Promise<void> | undefined;
  private inFlight: Promise<void> | undefined;
  private lastInsertAt = 0;
  private inserts = 0;

  constructor(
    private readonly conn: () => Conn,
    /** `db`.`table`, quoted. */
    private readonly ref: string,
    private readonly group: string,
    /** `checkpoint.interval.ms`: shortest time between two checkpoint INSERTs. */
    private readonly intervalMs: number,
  ) {}

  /** Checkpoint INSERTs made (tests and benchmarks: part hygiene). */
  get insertCount(): number {
    return this.inserts;
  }

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

  /** INVARIANT M: offsets at or below this instance's floor are ignored; returns once the rest is durable. */
  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    const moving = offsets.filter((o) => {
      const had = this.known.get(tpKey(o));
      return had === undefined || BigInt(o.offset) > had;
    });
    if (moving.length === 0) return;
    for (const o of moving) {
      const queued = this.queue.get(tpKey(o));
      if (!queued || BigInt(o.offset) > BigInt(queued.offset)) this.queue.set(tpKey(o), o);
    }
    await (this.next ??= this.flush());
  }

  /** INVARIANT R: exactly these offsets, backwards included, written after any INSERT in flight. */
  async reset(to: readonly PartitionOffset[]): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.inFlight?.catch(() => undefined);
    for (const o of to) this.queue.delete(tpKey(o));
    await this.insert(to);
  }

  /**
   * One checkpoint INSERT for everything queued when it starts. Invariants: (1) an offset is in the
   * queue only while its commit() call waits — a failed INSERT rejects every waiter (the runner
   * retries write + commit) and drops its entries, so nothing is written later for a partition this
   * process may no longer own; (2) INSERTs run one at a time, in queue order, `updated_at`
   * increasing, so a later commit of a partition always wins argMax; (3) at most one flush waits
   * to start (`next`): commits arriving meanwhile join it.
   */
  private async flush(): Promise<void> {
    // Always yields first (also with nothing in flight): commit() assigns `next` before this flush
    // takes the queue, so no commit can join a flush that has already taken it.
    await this.inFlight?.catch(() => undefined);
    const wait = this.lastInsertAt + this.intervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    // Commits from here on go to the next flush.
    this.next = undefined;
    const entries = [...this.queue.values()];
    this.queue.clear();
    const run = this.insert(entries);
    this.inFlight = run;
    try {
      await run;
    } finally {
      this.lastInsertAt = Date.now();
      if (this.inFlight === run) this.inFlight = undefined;
    }
  }

  private async insert(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const now = BigInt(Date.now()) * 1000n;
    this.lastVersion = now > this.lastVersion ? now : this.lastVersion + 1n;
    const lines = offsets.map((o) => [escapeTsv(this.group), escapeTsv(o.topic), String(o.partition), BigInt(o.offset).toString(), this.lastVersion.toString()].join('\t'));
    try {
      await this.conn().insertTsv(this.ref, ['group', 'topic', 'partition', 'offset', 'updated_at'], lines);
      this.inserts++;
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
