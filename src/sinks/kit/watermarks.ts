/**
 * Truncate watermarks. A truncate event has no key: it reaches the sink on partition 0 while changes
 * committed after it may already have been applied from other partitions, and changes committed
 * before it may arrive later. So a truncate acts as a watermark at its position, per table:
 *   W1. it removes (or hides) only rows older than its position, never a bare "delete everything";
 *   W2. the watermark only grows (a replayed older truncate never lowers it);
 *   W3. a change older than its table's watermark is stale: dropped, so a lagging partition cannot
 *       bring back a row the truncate removed.
 * Where the watermark is stored (with the offsets, before the effects, …) is the sink's choice; the
 * arithmetic is here. `V` is the sink's version type (a Position, or Redis's version string), with
 * its order given by `compare`.
 */
export class TruncateWatermarks<V> {
  private readonly marks = new Map<string, V>();

  constructor(
    private readonly compare: (a: V, b: V) => number,
    initial: Iterable<readonly [string, V]> = [],
  ) {
    for (const [table, v] of initial) this.raise(table, v);
  }

  /** W2: raises `table`'s watermark to `v` unless it is already at or above it; true when raised. */
  raise(table: string, v: V): boolean {
    const cur = this.marks.get(table);
    if (cur !== undefined && this.compare(cur, v) >= 0) return false;
    this.marks.set(table, v);
    return true;
  }

  get(table: string): V | undefined {
    return this.marks.get(table);
  }

  /** W3: true when a change at `v` is older than `table`'s watermark. */
  below(table: string, v: V): boolean {
    const mark = this.marks.get(table);
    return mark !== undefined && this.compare(v, mark) < 0;
  }

  entries(): IterableIterator<[string, V]> {
    return this.marks.entries();
  }

  /** A copy (plan against it without touching this one). */
  clone(): TruncateWatermarks<V> {
    return new TruncateWatermarks(this.compare, this.marks);
  }
}
