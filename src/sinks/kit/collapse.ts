/**
 * Last op per key within a batch. A target that replaces the whole row/document per write only needs
 * the newest op of each key in a batch; the older ones can be dropped before any request.
 *
 * INVARIANT: "newest" is by VERSION, not by offset: a snapshot row (initial, ad-hoc, or a table that
 * joined the selection) carries its snapshot's consistent point and may sit in the partition AFTER
 * changes streamed with higher versions — the target would refuse it as stale, so it must never
 * replace them here either. Among equal versions (one transaction) the last by offset wins, which is
 * the transaction's order. Safe only when each op carries its version and replaces the whole row
 * (delete-then-write keeps the write, write-then-delete keeps the delete).
 */
export interface Collapsed<T> {
  /** The newest op per key, in their original order. */
  readonly kept: T[];
  /** Per kept op, the ops of its key it superseded (to fall back to when the kept one is refused). */
  readonly superseded: Map<T, T[]>;
}

export function collapseLastPerKey<T>(ops: readonly T[], keyOf: (op: T) => string, versionOf: (op: T) => bigint): Collapsed<T> {
  const last = new Map<string, T>();
  const earlier = new Map<string, T[]>();
  const push = (key: string, op: T): void => {
    const list = earlier.get(key) ?? [];
    list.push(op);
    earlier.set(key, list);
  };
  for (const op of ops) {
    const key = keyOf(op);
    const prev = last.get(key);
    if (prev !== undefined && versionOf(op) < versionOf(prev)) {
      push(key, op);
      continue;
    }
    if (prev !== undefined) push(key, prev);
    last.set(key, op);
  }
  const kept = ops.filter((op) => last.get(keyOf(op)) === op);
  const superseded = new Map<T, T[]>();
  for (const op of kept) {
    const list = earlier.get(keyOf(op));
    if (list) superseded.set(op, list);
  }
  return { kept, superseded };
}
