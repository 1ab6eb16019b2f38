/**
 * Generations of an Elasticsearch sink's indices, for `cdc-fanout rebuild` (docs/rebuild.md).
 *
 * Readers query the name the sink renders from `index.name.template` (the *alias*). A rebuild writes
 * generation N of each index as `<alias>__g<N>-<group hash>` (the group hash keeps two sinks of one
 * cluster apart), fed by its own consumer group from offset 0, then flips every alias to its new
 * generation in ONE `_aliases` request — atomic, so a reader sees the old complete generation or the
 * new complete one, never a mix or an empty index. An index written before generations existed (a
 * concrete index with the alias' name) is removed in that same request (`remove_index`): an alias
 * cannot share a name with an index.
 *
 * The rebuild's state is one document `rebuild|<live group>` in the sink's checkpoint index, next
 * to the offsets of the live group and of the rebuild group, so a crashed rebuild resumes where it
 * was. Offsets are read from the checkpoint docs `<group>|<topic>|<partition>` (./checkpoints.ts).
 */
import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { beforeSwap, tpKey, type GenerationStore, type GenerationSwap, type RebuildState } from '../generations.js';
import type { TopicPartition } from '../sink.js';
import { CheckpointStore } from './checkpoints.js';
import { responseErrorType, toSinkError } from './errors.js';
import type { ElasticsearchConfig } from './spec.js';

const STATE_FIELDS = { rebuild: { type: 'object', enabled: false } } as const;

/** Short stable hash of the live group: generation names of different sinks never collide. */
export function groupHash(group: string): string {
  return createHash('sha256').update(group).digest('hex').slice(0, 6);
}

export function generationSuffix(group: string, generation: number): string {
  return `__g${generation}-${groupHash(group)}`;
}

interface CheckpointSource {
  readonly offset?: string;
  readonly rebuild?: RebuildState;
}

export class ElasticsearchGenerations implements GenerationStore {
  private readonly index: string;
  private readonly url: string;

  constructor(
    private readonly client: Client,
    private readonly config: ElasticsearchConfig,
    readonly liveGroup: string,
  ) {
    this.index = config['checkpoint.index'];
    this.url = config.url;
  }

  suffixFor(generation: number): string {
    return generationSuffix(this.liveGroup, generation);
  }

  rebuildConfig(state: RebuildState): Record<string, unknown> {
    return { 'group.id': state.rebuildGroup, 'index.name.template': beforeSwap(state) ? `${this.config['index.name.template']}${state.suffix}` : this.config['index.name.template'] };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private stateId(group: string): string {
    return `rebuild|${group}`;
  }

  /** The checkpoint index (as the sink's open() creates it) with the (opaque) rebuild state field. */
  async ensure(): Promise<void> {
    await new CheckpointStore(this.client, this.index, this.liveGroup, this.url).ensureIndex();
    try {
      await this.client.indices.putMapping({ index: this.index, properties: STATE_FIELDS });
    } catch (error) {
      throw toSinkError(error, `adding the rebuild state field to checkpoint index ${this.index}`, this.url);
    }
  }

  async load(group: string): Promise<RebuildState | null> {
    try {
      const doc = await this.client.get<CheckpointSource>({ index: this.index, id: this.stateId(group), realtime: true });
      return doc._source?.rebuild ?? null;
    } catch (error) {
      if (responseErrorType(error) === 'index_not_found_exception' || (error as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return null;
      throw toSinkError(error, `reading the rebuild state of ${group}`, this.url);
    }
  }

  async save(state: RebuildState): Promise<void> {
    try {
      await this.client.index({ index: this.index, id: this.stateId(state.group), document: { group: state.group, updated_at: new Date().toISOString(), rebuild: state }, refresh: false });
    } catch (error) {
      throw toSinkError(error, `storing the rebuild state of ${state.group}`, this.url);
    }
  }

  /** Stored offsets of `group` (realtime); partitions without a checkpoint are absent. */
  async offsets(group: string, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (partitions.length === 0) return out;
    try {
      const res = await this.client.mget<CheckpointSource>({ index: this.index, ids: partitions.map((p) => `${group}|${p.topic}|${p.partition}`), realtime: true });
      res.docs.forEach((doc, i) => {
        const p = partitions[i];
        if (p && 'found' in doc && doc.found && doc._source?.offset !== undefined) out.set(tpKey(p), BigInt(doc._source.offset));
      });
      return out;
    } catch (error) {
      if (responseErrorType(error) === 'index_not_found_exception') return out;
      throw toSinkError(error, `reading the offsets of ${group}`, this.url);
    }
  }

  /** Deletes the rebuild group's checkpoint docs (the generation is live; the live group owns the offsets). */
  async dropOffsets(group: string): Promise<void> {
    // Search + versionless deletes, not _delete_by_query (a module a cluster may not have).
    try {
      await this.client.indices.refresh({ index: this.index });
      const res = await this.client.search({ index: this.index, size: 10_000, _source: false, query: { term: { group } } });
      const ids = res.hits.hits.flatMap((h) => (h._id === undefined ? [] : [h._id]));
      if (ids.length > 0) await this.client.bulk({ refresh: true, operations: ids.map((id) => ({ delete: { _index: this.index, _id: id } })) });
    } catch (error) {
      throw toSinkError(error, `deleting the checkpoints of ${group}`, this.url);
    }
  }

  /** This generation's indices (named `<alias><suffix>`), created by the rebuild sink on first record. */
  async generationIndices(suffix: string): Promise<string[]> {
    try {
      const res = await this.client.indices.get({ index: `*${suffix}`, expand_wildcards: 'open', allow_no_indices: true });
      return Object.keys(res).filter((name) => name.endsWith(suffix)).sort();
    } catch (error) {
      throw toSinkError(error, `listing the indices of generation ${suffix}`, this.url);
    }
  }

  /**
   * The flips for a generation: each of its indices becomes what its alias points to. Read from the
   * cluster, so planning again after a crash gives the same plan for flips not done yet.
   */
  async planSwaps(suffix: string): Promise<GenerationSwap[]> {
    const swaps: GenerationSwap[] = [];
    for (const index of await this.generationIndices(suffix)) {
      const alias = index.slice(0, -suffix.length);
      swaps.push({ name: alias, generation: index, ...(await this.behind(alias)) });
    }
    return swaps;
  }

  /** What `alias` names now: the indices behind it, or a concrete index of that name (legacy). */
  async behind(alias: string): Promise<{ previous: string[]; legacy: boolean }> {
    try {
      const res = await this.client.indices.get({ index: alias, allow_no_indices: true, ignore_unavailable: true });
      const names = Object.keys(res);
      const legacy = names.includes(alias);
      return { previous: legacy ? [alias] : names, legacy };
    } catch (error) {
      if (responseErrorType(error) === 'index_not_found_exception') return { previous: [], legacy: false };
      throw toSinkError(error, `resolving ${alias}`, this.url);
    }
  }

  /**
   * Flips every alias to its new generation in one atomic `_aliases` request (after a refresh of
   * the new indices, so the first search after the flip sees every document). Flips already done
   * (a resumed swap) are left out.
   */
  async swap(swaps: readonly GenerationSwap[]): Promise<void> {
    const actions: Record<string, unknown>[] = [];
    for (const s of swaps) {
      const now = await this.behind(s.name);
      if (!now.legacy && now.previous.length === 1 && now.previous[0] === s.generation) continue; // done before a crash
      if (now.legacy) actions.push({ remove_index: { index: s.name } });
      else for (const old of now.previous) actions.push({ remove: { index: old, alias: s.name } });
      actions.push({ add: { index: s.generation, alias: s.name, is_write_index: true } });
    }
    if (actions.length === 0) return;
    try {
      await this.client.indices.refresh({ index: swaps.map((s) => s.generation).join(','), ignore_unavailable: true });
      await this.client.indices.updateAliases({ actions: actions as never });
    } catch (error) {
      throw toSinkError(error, `swapping aliases ${swaps.map((s) => s.name).join(', ')}`, this.url);
    }
  }

  /** Deletes previous generations (never an index an alias points to now; a legacy index went in the swap). */
  async dropPrevious(swaps: readonly GenerationSwap[]): Promise<string[]> {
    const dropped: string[] = [];
    for (const index of swaps.flatMap((s) => (s.legacy ? [] : s.previous))) {
      try {
        const aliases = await this.client.indices.getAlias({ index }).catch(() => ({}) as Record<string, { aliases?: Record<string, unknown> }>);
        const entry = (aliases as Record<string, { aliases?: Record<string, unknown> }>)[index];
        if (entry && Object.keys(entry.aliases ?? {}).length > 0) continue; // still serving
        await this.client.indices.delete({ index, ignore_unavailable: true });
        dropped.push(index);
      } catch (error) {
        if (responseErrorType(error) === 'index_not_found_exception') continue;
        throw toSinkError(error, `deleting previous generation ${index}`, this.url);
      }
    }
    return dropped;
  }
}

