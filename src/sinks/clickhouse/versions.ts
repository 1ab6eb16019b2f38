/**
 * Bounded LRU of the versions this sink has seen per row key (its own writes and stored versions it
 * read). It lets the stale check skip the ClickHouse lookup for hot keys. It can only under-report
 * staleness (every cached version really is stored or was superseded), so a cold or evicted entry
 * costs a lookup, never a wrong skip — except after someone else deletes rows behind the sink's back
 * (manual TRUNCATE): the sink clears a table's entries on its own truncates, and `clear()` exists
 * for external changes.
 */
export class VersionCache {
  private readonly map = new Map<string, bigint>();

  constructor(private readonly max: number) {}

  /** The version without refreshing the entry's recency (hot path). */
  peek(key: string): bigint | undefined {
    return this.map.get(key);
  }

  get(key: string): bigint | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Records a version; keeps the higher one. */
  set(key: string, version: bigint): void {
    if (this.max === 0) return;
    const cur = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, cur !== undefined && cur > version ? cur : version);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  /** Drops the entries whose key starts with `prefix` (one table), or all. */
  clear(prefix?: string): void {
    if (prefix === undefined) {
      this.map.clear();
      return;
    }
    for (const k of this.map.keys()) if (k.startsWith(prefix)) this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }
}
