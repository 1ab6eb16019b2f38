/**
 * Generations of a Redis sink's write-through rows (docs/rebuild.md, `cdc-fanout rebuild`).
 *
 * A generation is a key namespace: generation N ≥ 1 keeps the row of write key `user:1` at
 * `<ns>:user:1`, its version at `cdc:ver@<ns>:user:1`, with `<ns>` = `g<N>-<hash of the live group>`
 * (./generations.ts). Generation 0 — a sink never rebuilt — keeps rows at the plain write keys and
 * versions at `cdc:ver@<group.id>:<key>` (./scripts.ts). The pointer key (`generation.key`, default
 * `cdc:generation:<group.id>`) holds the live namespace; absent means generation 0. Readers GET the
 * pointer, then `<ns>:<key>` (or `<key>` when it is absent).
 *
 * Version keys are per generation, not per group: the rebuild instance (its own group and offsets)
 * and, after the flip, the live sink both write generation N and must see each other's versions, so
 * whichever of the two applies an older change loses; generation N's versions never meet the live
 * generation's before the flip.
 *
 * Only rows move: invalidation keys (other templates, invalidate/publish tables) are the
 * application's own cache entries and keep their plain names in every generation.
 */
import type { RedisSinkConfig } from './spec.js';
import type { RedisOp } from './plan.js';
import { versionKey } from './scripts.js';

/** The pointer key of a sink: `generation.key`, default `cdc:generation:<group.id>`. */
export function generationKeyOf(config: Pick<RedisSinkConfig, 'generation.key'>, group: string): string {
  return config['generation.key'] ?? `cdc:generation:${group}`;
}

/** The row key of write key `key` in namespace `ns` (null: generation 0, the plain key). */
export const nsKey = (ns: string | null, key: string): string => (ns === null ? key : `${ns}:${key}`);

/**
 * The version key of an (already namespaced) row key: in a namespace `cdc:ver@<ns>:<write key>`,
 * else the group's `cdc:ver@<group>:<key>`. Keys outside `ns` (invalidation keys a truncate scans)
 * get the group's form (they carry no version: removed).
 */
export function versionKeyIn(ns: string | null, group: string, key: string): string {
  return ns !== null && key.startsWith(`${ns}:`) ? versionKey(ns, key.slice(ns.length + 1)) : versionKey(group, key);
}

/** The op with its row keys (and a truncate's row prefix) in namespace `ns`; null leaves it as planned. */
export function inNamespace(op: RedisOp, ns: string | null): RedisOp {
  if (ns === null) return op;
  switch (op.kind) {
    case 'write':
    case 'delete':
      return { ...op, key: nsKey(ns, op.key), verKey: versionKey(ns, op.key) };
    case 'truncate':
      return { ...op, valuePrefix: op.valuePrefix === null ? null : nsKey(ns, op.valuePrefix), namespace: ns };
    case 'unlink':
    case 'shape':
      return op;
  }
}

/**
 * What the instance building a generation applies: rows only (writes, deletes, truncates of rows).
 * Replaying the log's invalidations and publishes would only evict the application's caches and
 * flood subscribers; the live sink does those.
 */
export function valuesOnly(ops: readonly RedisOp[]): RedisOp[] {
  return ops.flatMap((o): RedisOp[] => {
    if (o.kind === 'write' || o.kind === 'delete') return [o];
    if (o.kind === 'truncate' && o.valuePrefix !== null) return [{ ...o, prefixes: [], channel: null }];
    // The row shape a changed-shape invalidation keys on (kept in this instance's own offsets key's hash).
    if (o.kind === 'shape') return [o];
    return [];
  });
}
