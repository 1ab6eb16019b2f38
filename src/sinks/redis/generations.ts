/**
 * Generations of a Redis sink's write-through rows, for `cdc-fanout rebuild` (docs/rebuild.md).
 *
 * A generation is a key namespace (./namespace.ts): generation N ≥ 1 keeps its rows at
 * `g<N>-<hash of the live group>:<write key>`, generation 0 (never rebuilt) at the plain write keys.
 * The pointer key (`generation.key`) names the live one; readers and the live sink dereference it.
 * A rebuild instance (its own group and offsets hash) writes the rows of generation N from offset 0
 * into its namespace; the swap is ONE Lua script that sets the pointer only if the rebuild group's
 * stored offsets have reached the live group's on every partition — atomic with the live sink's
 * commits (each of them is one MULTI/EXEC that reads the pointer under WATCH), so the generation a
 * reader finds through the pointer always holds every change the live sink had applied: never a
 * partial generation, never a step back. The rebuild instance keeps running through the swap
 * (`trySwap`), so the condition becomes true while the live sink keeps writing.
 *
 * The rebuild's state is a JSON string at `cdc:rebuild:<live group>`, next to the offsets hashes.
 * The previous generation is dropped after the grace period with SCAN + UNLINK in batches: its
 * namespace (`<ns>:*`, `cdc:ver@<ns>:*`), or for generation 0 the rows that carry this sink's
 * version key (`cdc:ver@<group>:<key>`: exactly the keys the sink wrote, never the application's).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import { tpKey, type GenerationStore, type GenerationSwap, type RebuildState } from '../generations.js';
import { SinkError, type TopicPartition } from '../sink.js';
import { compileTables } from './plan.js';
import { generationKeyOf } from './namespace.js';
import { redisOptions } from './sink.js';
import type { RedisSinkConfig } from './spec.js';

/** Namespace of generation `n` of the sink whose live group is `group` (unique per sink and generation). */
export function generationNamespace(group: string, generation: number): string {
  return `g${generation}-${createHash('sha256').update(group).digest('hex').slice(0, 6)}`;
}

/** The default offsets hash of a group (as the plugin derives it). */
const offsetsKeyOf = (group: string): string => `cdc:offsets:${group}`;

/**
 * KEYS[1] = live offsets hash, KEYS[2] = rebuild offsets hash, KEYS[3] = pointer key;
 * ARGV[1] = the new namespace, ARGV[2..] = partition fields ("<topic>:<partition>").
 * Sets the pointer only when, on every field, the rebuild's stored offset is at or past the live
 * one's (a field the live sink never stored needs nothing). Returns 1 flipped (or already there), 0 not yet.
 */
const FLIP_SCRIPT = `
if redis.call('GET', KEYS[3]) == ARGV[1] then return 1 end
for i = 2, #ARGV do
  local live = redis.call('HGET', KEYS[1], ARGV[i])
  if live then
    local mine = redis.call('HGET', KEYS[2], ARGV[i])
    if not mine or tonumber(mine) < tonumber(live) then return 0 end
  end
end
redis.call('SET', KEYS[3], ARGV[1])
return 1
`;

function wrap(e: unknown, what: string): SinkError {
  if (e instanceof SinkError) return e;
  return new SinkError(`redis ${what} failed: ${e instanceof Error ? e.message : String(e)}`, { retriable: true, cause: e });
}

export class RedisGenerations implements GenerationStore {
  private readonly redis: Redis;
  private readonly pointer: string;
  private readonly liveOffsets: string;

  constructor(
    private readonly config: RedisSinkConfig,
    readonly liveGroup: string,
    private readonly logger: Logger,
  ) {
    const tables = compileTables(config);
    const writeThrough = [...tables.values()].some((t) => t.mode === 'write-through') || config['table.default']?.mode === 'write-through';
    if (!writeThrough) {
      throw new Error(
        'this Redis sink has no write-through tables: it stores no rows, it only invalidates (or publishes) the application\'s keys, so there is no generation to rebuild — the application refills its cache from the database. A rebuild applies to tables with mode: write-through (docs/rebuild.md, "Redis")',
      );
    }
    const { url, options } = redisOptions(config);
    this.redis = url ? new Redis(url, options) : new Redis(options);
    this.redis.on('error', (e: Error) => this.logger.debug({ err: e.message }, 'redis connection error (rebuild)'));
    this.pointer = generationKeyOf(config, liveGroup);
    this.liveOffsets = config['offsets.key'] ?? offsetsKeyOf(liveGroup);
  }

  /** A Redis generation is the whole sink's namespace: the pointer cannot flip some tables only. */
  checkRequest(tables: readonly string[] | null): void {
    if (tables !== null) {
      throw new Error(`--tables: a Redis sink's generation is its whole key namespace behind one pointer key (${this.pointer}), so it is rebuilt for every table at once; run the rebuild without --tables`);
    }
  }

  private offsetsKey(group: string): string {
    return group === this.liveGroup ? this.liveOffsets : offsetsKeyOf(group);
  }

  private get stateKey(): string {
    return `cdc:rebuild:${this.liveGroup}`;
  }

  suffixFor(generation: number): string {
    return generationNamespace(this.liveGroup, generation);
  }

  /** The rebuild instance writes rows only, into the generation's namespace, in every phase (after the flip it is the live one). */
  rebuildConfig(state: RebuildState): Record<string, unknown> {
    return { 'group.id': state.rebuildGroup, 'offsets.key': offsetsKeyOf(state.rebuildGroup), 'generation.namespace': state.suffix };
  }

  async ensure(): Promise<void> {
    try {
      if (this.redis.status === 'wait') await this.redis.connect();
      await this.redis.ping();
    } catch (e) {
      throw wrap(e, 'connect');
    }
  }

  async load(group: string): Promise<RebuildState | null> {
    try {
      const text = await this.redis.get(`cdc:rebuild:${group}`);
      return text === null ? null : (JSON.parse(text) as RebuildState);
    } catch (e) {
      throw wrap(e, `reading the rebuild state of ${group}`);
    }
  }

  async save(state: RebuildState): Promise<void> {
    try {
      await this.redis.set(this.stateKey, JSON.stringify(state));
    } catch (e) {
      throw wrap(e, `storing the rebuild state of ${state.group}`);
    }
  }

  async offsets(group: string, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (partitions.length === 0) return out;
    try {
      const values = await this.redis.hmget(this.offsetsKey(group), ...partitions.map((p) => `${p.topic}:${p.partition}`));
      partitions.forEach((p, i) => {
        const v = values[i];
        if (v !== null && v !== undefined) out.set(tpKey(p), BigInt(v));
      });
      return out;
    } catch (e) {
      throw wrap(e, `reading the offsets of ${group}`);
    }
  }

  async dropOffsets(group: string): Promise<void> {
    if (group === this.liveGroup) throw new Error(`refusing to drop the live group's offsets (${this.liveOffsets})`);
    try {
      await this.redis.unlink(this.offsetsKey(group));
    } catch (e) {
      throw wrap(e, `deleting the offsets of ${group}`);
    }
  }

  /** One swap: the pointer moves to the generation's namespace; `previous` is what it names now ([] and legacy: generation 0, plain keys). */
  async planSwaps(suffix: string): Promise<GenerationSwap[]> {
    let now: string | null;
    try {
      now = await this.redis.get(this.pointer);
    } catch (e) {
      throw wrap(e, `reading the pointer ${this.pointer}`);
    }
    if (now === suffix) return [{ name: this.pointer, generation: suffix, previous: [], legacy: false }]; // flipped already (a resumed swap)
    return [{ name: this.pointer, generation: suffix, previous: now === null ? [] : [now], legacy: now === null }];
  }

  /** Unconditional flip (every pointer to its generation). The rebuild uses `trySwap`, which is atomic with the live sink's progress. */
  async swap(swaps: readonly GenerationSwap[]): Promise<void> {
    try {
      for (const s of swaps) await this.redis.set(s.name, s.generation);
    } catch (e) {
      throw wrap(e, `setting ${swaps.map((s) => s.name).join(', ')}`);
    }
  }

  /**
   * Flips the pointer if, at this instant, the rebuild group has applied every record the live group
   * has on every partition (FLIP_SCRIPT: one atomic script, so no live commit lands in between).
   * INVARIANT: the generation the pointer names never lacks a change the live sink had applied.
   */
  async trySwap(swaps: readonly GenerationSwap[], state: RebuildState, partitions: readonly TopicPartition[]): Promise<boolean> {
    const fields = partitions.map((p) => `${p.topic}:${p.partition}`);
    try {
      for (const s of swaps) {
        const r = await this.redis.eval(FLIP_SCRIPT, 3, this.liveOffsets, this.offsetsKey(state.rebuildGroup), s.name, s.generation, ...fields);
        if (Number(r) !== 1) return false;
      }
      return true;
    } catch (e) {
      throw wrap(e, `flipping ${this.pointer}`);
    }
  }

  /** Drops the previous generation (never the one the pointer names now); returns what was dropped. */
  async dropPrevious(swaps: readonly GenerationSwap[]): Promise<string[]> {
    const dropped: string[] = [];
    try {
      for (const s of swaps) {
        const now = await this.redis.get(s.name);
        if (s.legacy) {
          if (now === null) continue; // the pointer was removed by hand: generation 0 serves again
          const n = await this.dropGenerationZero();
          dropped.push(`generation 0's rows (${n} keys with ${this.versionPattern(this.liveGroup)})`);
        }
        for (const ns of s.previous) {
          if (ns === now) continue; // serving again (pointer moved back by hand)
          const n = (await this.unlinkMatching(`${glob(ns)}:*`)) + (await this.unlinkMatching(`${this.versionPattern(ns)}`));
          dropped.push(`${ns}:* (${n} keys)`);
        }
      }
      return dropped;
    } catch (e) {
      throw wrap(e, 'dropping the previous generation');
    }
  }

  private versionPattern(ns: string): string {
    return `cdc:ver@${glob(ns)}:*`;
  }

  /** Generation 0: the rows this sink wrote are those with its version key; both go (markers of deleted rows too). */
  private async dropGenerationZero(): Promise<number> {
    const prefix = `cdc:ver@${this.liveGroup}:`;
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.versionPattern(this.liveGroup), 'COUNT', 1000);
      cursor = next;
      const doomed = keys.flatMap((k) => [k, k.slice(prefix.length)]);
      for (let i = 0; i < doomed.length; i += 1000) n += await this.redis.unlink(...doomed.slice(i, i + 1000));
    } while (cursor !== '0');
    return n;
  }

  private async unlinkMatching(pattern: string): Promise<number> {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return n;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A literal string as a SCAN MATCH pattern. */
const glob = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
