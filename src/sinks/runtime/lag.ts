/**
 * Consumer lag of one sink, per assigned partition, as the daemon reports it:
 *
 *   offset lag = end offset (Kafka's last stable offset, what a read_committed reader can reach)
 *                − the sink's stored offset (next offset it will apply, from its own store)
 *   time lag   = age of the oldest event not yet applied
 *
 * Invariant: a lag is a number only when both sides are known — end offsets fetched recently
 * (younger than `maxAgeMs`) and the partition's stored offset loaded. Otherwise it is null
 * ("unknown"), never 0: a 0 must mean "caught up". The total is null as soon as one assigned
 * partition is unknown.
 *
 * Time lag: the Kafka timestamp of the first fetched-but-unapplied record when the runner has one in
 * hand; otherwise (nothing fetched past the stored offset, e.g. a paused sink or a partition
 * waiting for its next fetch) the time since the lag poller first saw the partition behind at
 * that stored offset — a lower bound, off by at most one poll interval.
 */
import type { TopicPartition } from '../sink.js';

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Next offset the sink applies (its own store), decimal string; null while loading. */
  readonly offset: string | null;
  /** Last stable offset at the last poll, decimal string; null before the first poll. */
  readonly endOffset: string | null;
  readonly lag: number | null;
  readonly timeLagMs: number | null;
}

export interface LagSnapshot {
  readonly partitions: readonly PartitionLag[];
  /** Sum over the assigned partitions; null when any of them (or the assignment) is unknown. */
  readonly lag: number | null;
  /** Oldest unapplied event over the assigned partitions; null when unknown. */
  readonly timeLagMs: number | null;
  /** When end offsets were last fetched (ISO), null before the first fetch. */
  readonly updatedAt: string | null;
}

interface Ends {
  readonly low: bigint;
  readonly high: bigint;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class LagTracker {
  private readonly assigned = new Map<string, TopicPartition>();
  private assignedOnce = false;
  /** undefined: still loading; null: the sink never stored one (it starts at the earliest offset). */
  private readonly stored = new Map<string, bigint | null>();
  private readonly ends = new Map<string, Ends>();
  private endsAt: number | undefined;
  private readonly pending = new Map<string, number>();
  private readonly behind = new Map<string, { readonly offset: bigint | null; readonly since: number }>();

  constructor(private readonly maxAgeMs: number) {}

  /** A new assignment replaces the old one (partitions moved away forget their state). */
  assign(partitions: readonly TopicPartition[]): void {
    this.assignedOnce = true;
    const keep = new Set(partitions.map((p) => key(p.topic, p.partition)));
    for (const map of [this.assigned, this.stored, this.pending, this.behind] as Map<string, unknown>[]) {
      for (const k of [...map.keys()]) if (!keep.has(k)) map.delete(k);
    }
    for (const p of partitions) {
      const k = key(p.topic, p.partition);
      if (!this.assigned.has(k)) {
        this.assigned.set(k, { topic: p.topic, partition: p.partition });
        this.stored.delete(k);
      }
    }
  }

  topics(): string[] {
    return [...new Set([...this.assigned.values()].map((p) => p.topic))];
  }

  setStored(topic: string, partition: number, offset: string | null): void {
    const k = key(topic, partition);
    if (!this.assigned.has(k)) return;
    this.stored.set(k, offset === null ? null : BigInt(offset));
  }

  /** Kafka timestamp (ms) of the first record fetched but not yet applied; null when none is in hand. */
  setPending(topic: string, partition: number, timestampMs: number | null): void {
    const k = key(topic, partition);
    if (timestampMs === null || !Number.isFinite(timestampMs)) this.pending.delete(k);
    else this.pending.set(k, timestampMs);
  }

  setEnds(topic: string, partitions: readonly { partition: number; low: string; high: string }[], now = Date.now()): void {
    for (const p of partitions) this.ends.set(key(topic, p.partition), { low: BigInt(p.low), high: BigInt(p.high) });
    this.endsAt = now;
    for (const [k] of this.assigned) {
      const lag = this.partitionLag(k);
      if (lag === null || lag === 0n) this.behind.delete(k);
      else {
        const at = this.stored.get(k) ?? null;
        const was = this.behind.get(k);
        if (!was || was.offset !== at) this.behind.set(k, { offset: at, since: now });
      }
    }
  }

  private partitionLag(k: string): bigint | null {
    const ends = this.ends.get(k);
    const stored = this.stored.get(k);
    if (!ends || stored === undefined) return null;
    const from = stored ?? ends.low;
    return ends.high > from ? ends.high - from : 0n;
  }

  snapshot(now = Date.now()): LagSnapshot {
    const fresh = this.endsAt !== undefined && now - this.endsAt <= this.maxAgeMs;
    const partitions: PartitionLag[] = [];
    let total = 0;
    let totalKnown = this.assignedOnce && fresh;
    let oldest = 0;
    let oldestKnown = totalKnown;
    for (const [k, tp] of this.assigned) {
      const stored = this.stored.get(k);
      const ends = this.ends.get(k);
      const lagBig = fresh ? this.partitionLag(k) : null;
      const lag = lagBig === null ? null : Number(lagBig);
      let timeLagMs: number | null = null;
      if (lag === 0) timeLagMs = 0;
      else if (lag !== null) {
        const pending = this.pending.get(k);
        const behind = this.behind.get(k);
        if (pending !== undefined) timeLagMs = Math.max(0, now - pending);
        else if (behind && behind.offset === (stored ?? null)) timeLagMs = Math.max(0, now - behind.since);
      }
      if (lag === null) totalKnown = false;
      else total += lag;
      if (timeLagMs === null) oldestKnown = false;
      else oldest = Math.max(oldest, timeLagMs);
      partitions.push({
        topic: tp.topic,
        partition: tp.partition,
        offset: stored === undefined ? null : stored === null ? (ends ? ends.low.toString() : null) : stored.toString(),
        endOffset: ends ? ends.high.toString() : null,
        lag,
        timeLagMs,
      });
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return {
      partitions,
      lag: totalKnown ? total : null,
      timeLagMs: oldestKnown ? oldest : null,
      updatedAt: this.endsAt !== undefined ? new Date(this.endsAt).toISOString() : null,
    };
  }
}
