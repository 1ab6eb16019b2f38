/**
 * Splitting ordered items into requests. INVARIANT: order is kept (chunks are consecutive runs of
 * the input), no chunk is empty, and an item bigger than `maxBytes` on its own goes alone rather
 * than being dropped — the target then accepts or refuses it like any other.
 */
export interface ChunkLimits {
  /** Most items per chunk (default: unbounded). */
  readonly maxItems?: number;
  /** Most bytes per chunk, counted with `sizeOf` plus `overheadBytes` (default: unbounded). */
  readonly maxBytes?: number;
  /** Fixed bytes of every chunk (envelope, brackets), default 0. */
  readonly overheadBytes?: number;
}

export function chunkBy<T>(items: readonly T[], limits: ChunkLimits, sizeOf: (item: T) => number = () => 0): T[][] {
  const maxItems = limits.maxItems ?? Number.POSITIVE_INFINITY;
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  const overhead = limits.overheadBytes ?? 0;
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = overhead;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = overhead;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
