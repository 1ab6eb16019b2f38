/**
 * Bounded cache of the versions this sink has seen per row key (its own writes and stored versions it
 * read). It lets the stale check skip the ClickHouse lookup for hot keys. It can only under-report
 * staleness (every cached version really is stored or was superseded), so a cold or evicted entry
 * costs a lookup, never a wrong skip — except after someone else deletes rows behind the sink's back
 * (manual TRUNCATE): the sink clears a table's entries on its own truncates, and `clear()` exists
 * for external changes.
 *
 * Memory: one Map per target table keyed by the row key as is (no per-entry "table + key" string),
 * versions kept as numbers while they are safe integers (Postgres LSNs below 2^53; a bigint only
 * beyond). That is ~90 bytes of V8 heap per entry instead of ~160 for a flat map of concatenated
 * keys to bigints (measured: 200k entries of the demo's key shapes, heapUsed after a full GC). Entries are in
 * write order per table (least recently written first); when the cache is full, the table holding
 * the most entries gives up its least recently written one.
 *
 * Eviction is O(1) amortised: each table keeps one live key iterator that walks its Map from the
 * oldest entry. Asking a fresh `keys().next()` per eviction is not: V8 leaves a deleted Map entry as
 * a hole until the table is rehashed, and a new iterator skips every hole from the start — with the
 * cache full, every new key evicted one entry and each eviction rescanned all holes before it
 * (measured: 300k evictions from a 50k-entry Map, 17.6 s fresh iterators vs 0.3 s one live one;
 * `evictOne` was 3 % of the daemon's CPU in bench:e2e). A live Map iterator skips the holes once,
 * sees entries added after it was created (a re-set key moves to the end, and is met again there),
 * and survives rehashing; once it reports done it stays done, so a new one is taken then.
 */
type Stored = number | bigint;

const compact = (v: bigint): Stored => (v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
const widen = (v: Stored): bigint => (typeof v === 'number' ? BigInt(v) : v);

export class VersionCache {
  private readonly tables = new Map<string, Map<string, Stored>>();
  /** Per table: the live iterator eviction continues from (see the header). */
  private readonly cursors = new WeakMap<Map<string, Stored>, Iterator<string>>();
  private count = 0;

  constructor(private readonly max: number) {}

  /** The cached version of a row key of a target table (does not change its recency). */
  peek(table: string, key: string): bigint | undefined {
    const v = this.tables.get(table)?.get(key);
    return v === undefined ? undefined : widen(v);
  }

  /** Records a version; keeps the higher one. The entry becomes the table's most recent. */
  set(table: string, key: string, version: bigint): void {
    if (this.max === 0) return;
    let t = this.tables.get(table);
    if (!t) this.tables.set(table, (t = new Map()));
    const cur = t.get(key);
    if (cur !== undefined) {
      t.delete(key);
      this.count--;
      if (widen(cur) > version) version = widen(cur);
    }
    t.set(key, compact(version));
    this.count++;
    while (this.count > this.max) this.evictOne();
  }

  private evictOne(): void {
    let largest: Map<string, Stored> | undefined;
    for (const t of this.tables.values()) if (!largest || t.size > largest.size) largest = t;
    if (largest === undefined || largest.size === 0) {
      this.count = 0;
      return;
    }
    let cursor = this.cursors.get(largest);
    let next = cursor?.next();
    if (cursor === undefined || next === undefined || next.done === true) {
      cursor = largest.keys();
      this.cursors.set(largest, cursor);
      next = cursor.next();
    }
    if (next.done === true) {
      this.count = 0;
      return;
    }
    largest.delete(next.value);
    this.count--;
  }

  /** Drops one table's entries, or all. */
  clear(table?: string): void {
    if (table === undefined) {
      this.tables.clear();
      this.count = 0;
      return;
    }
    this.count -= this.tables.get(table)?.size ?? 0;
    this.tables.delete(table);
  }

  get size(): number {
    return this.count;
  }
}
