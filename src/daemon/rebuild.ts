/**
 * Rebuild of a sink into a new generation from the log (`cdc-fanout rebuild`, docs/rebuild.md).
 *
 * A second instance of the sink — same config, its own consumer group `<group>.rebuild.g<N>`, its
 * index names suffixed with the generation — reads the sink's topics from offset 0 into the new
 * generation while the live sink keeps applying to the current one. Phases (stored in the sink's
 * own store after each step, so a crash at any point resumes):
 *   building  — until the rebuild group's stored offsets reach the live group's on every partition
 *               (and at least the topics' ends when it began: a sink new to the pipeline);
 *   swapping  — the rebuild instance stops; the swap, planned (stored) first, then performed;
 *   draining  — the live sink may still have written records to the old generation up to the flip,
 *               all of them below the topics' high watermarks read right after it: the rebuild
 *               instance, restarted to write the live names, applies up to there (versioned writes,
 *               so the live sink's newer ones win);
 *   retiring  — after `graceMs`, the previous generation is dropped;
 *   done.
 * The sink type's generations (src/sinks/generations.ts) say what a generation is and how it swaps:
 * an Elasticsearch index behind an alias, a ClickHouse table (EXCHANGE TABLES / RENAME), a Redis key
 * namespace behind a pointer key (a conditional swap: only at an instant when the new generation
 * holds everything the live one does, so the rebuild instance keeps running through it).
 */
import type { PipelineConfig, SinkConfig } from '../config/schema.js';
import { followsSource, sinkTables, sinkTopics, sourceTopicMatcher } from '../config/sink-topics.js';
import { kafkaClient, type KafkaClient } from '../kafka/client.js';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { rebuildGroupOf, tpKey, type GenerationStore, type RebuildState } from '../sinks/generations.js';
import { loadSinkPlugin } from '../sinks/registry.js';
import { resolveSinkConfig, sinkCommonSpec, type SinkCommonConfig } from '../sinks/runtime/config.js';
import { SinkError, type PartitionOffset, type TopicPartition } from '../sinks/sink.js';
import { specFields } from '../spec/spec-fields.js';
import type { SinkHandle } from './handles.js';
import { sourceDatabaseUrl } from '../source/source-url.js';
import { sinkFactory } from './sink-adapter.js';
import { committedIncremental, requestIncrementalSnapshot, snapshotTables, sourceConfigOf } from './rebuild-snapshot.js';

/** Smallest batch of the rebuild instance (see startRebuildSink). */
const REBUILD_MIN_BATCH = 1000;

/** The Kafka admin client (as src/kafka/client.ts hands it out). */
type KafkaAdmin = ReturnType<KafkaClient['admin']>;

export interface RebuildInput {
  readonly pipeline: string;
  readonly topicPrefix: string;
  readonly kafka: KafkaConfig;
  readonly source: PipelineConfig['source'];
  readonly sink: SinkConfig;
  /** Only these tables ("schema.table"); default every table of the sink. */
  readonly tables?: readonly string[];
  /** How long the previous generation is kept after the swap (readers holding it, rollback). */
  readonly graceMs: number;
  /** How often progress is compared (ms). */
  readonly pollMs?: number;
  readonly logger: Logger;
  /** Progress lines for the CLI / admin API. */
  readonly onProgress?: (p: RebuildProgress) => void;
  /** Tests: called once per phase entered, with the stored state. */
  readonly onPhase?: (state: RebuildState) => void | Promise<void>;
  readonly signal?: AbortSignal;
  readonly sessionTimeoutMs?: number;
  /** Only report the generation the command would build (or resume) and its names' suffix; change nothing. */
  readonly planOnly?: boolean;
  /** How long a resumed rebuild waits for another run's consumers to leave its group (default 60 s). */
  readonly memberWaitMs?: number;
  /**
   * `log` (default): the generation reads the topics from offset 0. `snapshot`: from the topics' ends,
   * after requesting an incremental snapshot of the tables from the running daemon (rebuild-snapshot.ts).
   */
  readonly from?: 'log' | 'snapshot';
  /** `--from snapshot`: how long the source may take to start the requested snapshot (default 120 s). */
  readonly snapshotStartTimeoutMs?: number;
}

export interface RebuildProgress {
  readonly generation: number;
  readonly phase: RebuildState['phase'];
  /** Records the rebuild still has to apply to reach its target (live offsets, then the drain marks). */
  readonly behind: bigint;
  readonly partitions: number;
  readonly message: string;
}

export interface RebuildResult {
  readonly state: RebuildState;
  readonly resumed: boolean;
  readonly dropped: readonly string[];
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** The live sink's consumer group (the `group.id` rule of the runtime). */
export function liveGroupOf(input: Pick<RebuildInput, 'pipeline' | 'topicPrefix' | 'sink'>): string {
  const common = sinkCommonSpec.parse({ ...specFields(input.sink, sinkCommonSpec), tables: undefined, topics: ['x'] }) as SinkCommonConfig;
  return resolveSinkConfig(common, { pipeline: input.pipeline, topicPrefix: input.topicPrefix }).groupId;
}

/** Topics the rebuild reads: the tables asked for, else the sink's own, else the source's selection. */
async function rebuildTopics(input: RebuildInput, admin: KafkaAdmin): Promise<string[]> {
  if (input.tables && input.tables.length > 0) return sinkTopics({ tables: [...input.tables] }, input.topicPrefix);
  if (!followsSource(input.sink)) return sinkTopics(input.sink, input.topicPrefix);
  const match = sourceTopicMatcher(input.source);
  return (await admin.listTopics()).filter(match).sort();
}

async function partitionsOf(admin: KafkaAdmin, topics: readonly string[]): Promise<{ partitions: TopicPartition[]; high: Map<string, bigint> }> {
  const partitions: TopicPartition[] = [];
  const high = new Map<string, bigint>();
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const tp = { topic, partition: p.partition };
      partitions.push(tp);
      // An empty partition (everything compacted or expired away) gives a consumer nothing to
      // commit: nothing to read there, so no target.
      high.set(tpKey(tp), BigInt(p.high) > BigInt(p.low) ? BigInt(p.high) : 0n);
    }
  }
  return { partitions, high };
}

/**
 * Runs a step of the rebuild again after a transient failure (a store timeout, a broker hiccup):
 * every step is idempotent (state is stored after it), so retrying is safe; the last error is thrown.
 */
async function retrying<T>(what: string, fn: () => Promise<T>, log: Logger, signal?: AbortSignal, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err instanceof SinkError ? err.retriable : (err as { retriable?: boolean }).retriable === true;
      if (!retriable || i >= attempts || signal?.aborted) throw err;
      log.warn({ err: (err as Error).message, attempt: i }, `rebuild: ${what} failed transiently; retrying`);
      await sleep(Math.min(30_000, 1000 * 2 ** (i - 1)), signal);
    }
  }
}

export async function rebuildSink(input: RebuildInput): Promise<RebuildResult> {
  const plugin = await loadSinkPlugin(input.sink.type);
  if (!plugin.generations) {
    throw new Error(
      `sink "${input.sink.name}" is of type ${input.sink.type}, which cannot be rebuilt into a new generation (elasticsearch, clickhouse and redis write-through tables can; see docs/rebuild.md)`,
    );
  }
  if (input.from === 'snapshot' && !input.source['signal.data.collection']) {
    throw new Error(`--from snapshot needs source.signal.data.collection (e.g. public.cdc_fanout_signal) in pipeline "${input.pipeline}": the running daemon takes the snapshot request from that table; set it, restart the daemon, and run the rebuild again (or rebuild with --from log)`);
  }
  const log = input.logger.child({ rebuild: input.sink.name });
  const config = plugin.spec.parse(specFields(input.sink, plugin.spec));
  const store: GenerationStore = plugin.generations(config, { pipeline: input.pipeline, sinkName: input.sink.name, topicPrefix: input.topicPrefix, groupId: liveGroupOf(input), logger: log });
  const group = store.liveGroup;
  const kafka = kafkaClient(input.kafka, { clientIdSuffix: `${input.pipeline}.${input.sink.name}.rebuild` });
  const admin = kafka.admin();
  const pollMs = input.pollMs ?? 2000;
  let handle: SinkHandle | null = null;
  let failure: Error | null = null;
  await admin.connect();
  try {
    await store.ensure();
    const previous = await store.load(group);
    const resumed = previous !== null && previous.phase !== 'done';
    const wanted = input.tables && input.tables.length > 0 ? [...input.tables].sort() : null;
    store.checkRequest?.(wanted);
    if (resumed && JSON.stringify(previous.tables) !== JSON.stringify(wanted)) {
      throw new Error(
        `a rebuild of generation ${previous.generation} of sink "${input.sink.name}" (tables: ${previous.tables?.join(', ') ?? 'all'}) is in phase ${previous.phase}; run the same command again to resume it (${previous.tables ? `--tables ${previous.tables.join(',')}` : 'without --tables'}), then start the new one`,
      );
    }
    const from = input.from ?? 'log';
    if (resumed && (previous.from ?? 'log') !== from) {
      throw new Error(
        `a rebuild of generation ${previous.generation} of sink "${input.sink.name}" from the ${previous.from ?? 'log'} is in phase ${previous.phase}; run the same command with --from ${previous.from ?? 'log'} to resume it, then start the new one`,
      );
    }
    let state: RebuildState = resumed
      ? previous
      : (() => {
          const generation = (previous?.generation ?? 0) + 1;
          return { group, generation, rebuildGroup: rebuildGroupOf(group, generation), suffix: store.suffixFor(generation), tables: wanted, from, phase: 'building' as const, startedAt: new Date().toISOString() };
        })();
    const save = async (next: RebuildState): Promise<void> => {
      await store.save(next);
      state = next;
      log.info({ generation: next.generation, phase: next.phase }, 'rebuild phase');
      await input.onPhase?.(next);
    };
    if (input.planOnly) return { state, resumed, dropped: [] };
    // Two processes driving one rebuild would race on its state: a resumed one waits until the
    // group's members are gone (a killed run's expire after the session timeout), else refuses.
    if (resumed) {
      const until = Date.now() + (input.memberWaitMs ?? 60_000);
      for (;;) {
        const [g] = (await admin.describeGroups([state.rebuildGroup])).groups;
        const n = g?.members.length ?? 0;
        if (n === 0) break;
        if (Date.now() > until) {
          throw new Error(`the rebuild of generation ${state.generation} of sink "${input.sink.name}" is running in another process (consumer group ${state.rebuildGroup} has ${n} live member(s)); wait for it to finish, or stop it first`);
        }
        input.onProgress?.({ generation: state.generation, phase: state.phase, behind: 0n, partitions: 0, message: `waiting for ${n} member(s) of ${state.rebuildGroup} to leave (a killed run's expire after the session timeout)` });
        await sleep(2000, input.signal);
        if (input.signal?.aborted) throw new Error('rebuild stopped (it resumes when run again)');
      }
    }
    if (!resumed) await save(state);
    else log.info({ generation: state.generation, phase: state.phase }, 'resuming rebuild');

    const topics = await rebuildTopics(input, admin);
    if (topics.length === 0) throw new Error(`sink "${input.sink.name}" has no topics to rebuild from (no captured table's topic exists yet)`);
    const toOffsets = (high: Map<string, bigint>): PartitionOffset[] =>
      [...high].map(([k, v]) => {
        const i = k.lastIndexOf('|');
        return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset: v.toString() };
      });
    // --from log: at least the topics' ends of now. --from snapshot: set once the snapshot is done (below).
    if (state.phase === 'building' && state.readTo === undefined && from === 'log') await save({ ...state, readTo: toOffsets((await partitionsOf(admin, topics)).high) });
    const progress = (behind: bigint, partitions: number, message: string): void => input.onProgress?.({ generation: state.generation, phase: state.phase, behind, partitions, message });

    const startRebuildSink = async (): Promise<void> => {
      const sink = {
        ...input.sink,
        // Replaying a backlog: batches of at least 1000 records (the live sink's may be small for
        // latency); the sink still splits requests by its own byte/row limits. A rebuild slower than
        // the write rate would never catch up.
        'batch.max.records': Math.max(input.sink['batch.max.records'], REBUILD_MIN_BATCH),
        'group.id': state.rebuildGroup,
        ...store.rebuildConfig(state),
        ...(state.tables ? { tables: [...state.tables], topics: undefined } : {}),
      } as SinkConfig;
      // As the daemon builds the live sink: the source catalog for sinks that read it (ClickHouse DDL).
      const source = input.source;
      const { factory } = await sinkFactory({
        pipeline: input.pipeline,
        topicPrefix: input.topicPrefix,
        kafka: input.kafka,
        sink,
        logger: log,
        source,
        sourceDatabaseUrl: sourceDatabaseUrl(source),
        ...(source['database.tls'] ? { sourceDatabaseTls: source['database.tls'] } : {}),
        ...(input.sessionTimeoutMs ? { sessionTimeoutMs: input.sessionTimeoutMs } : {}),
      });
      handle = factory({ onFailure: (e) => (failure = e) });
      await handle.start();
    };
    const stopRebuildSink = async (): Promise<void> => {
      const h = handle as SinkHandle | null;
      handle = null;
      await h?.stop();
    };
    /** Stores `to` as the rebuild group's offsets through the sink's own store (OffsetStore.reset: nothing consumes them yet). */
    const seedOffsets = async (to: readonly PartitionOffset[]): Promise<void> => {
      const cfg = { ...input.sink, 'group.id': state.rebuildGroup, ...store.rebuildConfig(state), ...(state.tables ? { tables: [...state.tables], topics: undefined } : {}) } as Record<string, unknown>;
      const sink = plugin.create(plugin.spec.parse(specFields(cfg, plugin.spec)), { pipeline: input.pipeline, sinkName: input.sink.name, topicPrefix: input.topicPrefix, groupId: state.rebuildGroup, kafka: input.kafka, logger: log });
      await retrying('opening the sink to set the rebuild offsets', () => sink.open(), log, input.signal);
      try {
        await retrying('setting the rebuild offsets', () => sink.resetOffsets(to), log, input.signal);
      } finally {
        await sink.close().catch(() => undefined);
      }
    };
    const check = (): void => {
      if (failure) throw new Error(`the rebuild sink failed: ${failure.message}`, { cause: failure });
      if (input.signal?.aborted) throw new Error('rebuild stopped (it resumes when run again)');
    };

    const sourceCfg = from === 'snapshot' ? sourceConfigOf(input.source) : null;
    if (sourceCfg && state.phase === 'building' && !state.snapshot) {
      // Order matters (rebuild-snapshot.ts): the topics' ends E are read, and the rebuild group's
      // offsets set to them, BEFORE the snapshot is requested — every snapshot row and every change
      // committed after the request lands at or after E.
      const running = await retrying('reading the source\'s snapshot state', () => committedIncremental(kafka, sourceCfg), log, input.signal);
      if (running && !running.finished) {
        throw new Error(`an incremental snapshot (${running.id}, tables left: ${running.tables.join(', ')}) is running in pipeline "${input.pipeline}"; --from snapshot needs its own: wait for it to finish (cdc-fanout status) or stop it (cdc-fanout snapshot ${input.pipeline} --stop), then run the rebuild again`);
      }
      const tables = await snapshotTables(sourceCfg, wanted ?? (sinkTables(input.sink).length > 0 ? sinkTables(input.sink) : null), log);
      const { partitions } = await partitionsOf(admin, topics);
      const startAt: PartitionOffset[] = [];
      for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) startAt.push({ topic, partition: p.partition, offset: String(p.high) });
      await seedOffsets(startAt);
      const stored = await store.offsets(state.rebuildGroup, partitions);
      const off = startAt.filter((o) => stored.get(tpKey(o)) !== BigInt(o.offset));
      if (off.length) throw new Error(`could not set the rebuild group's offsets to the topics' ends (${off.map((o) => `${o.topic}[${o.partition}]`).join(', ')} differ in the sink's store); is another rebuild of sink "${input.sink.name}" running?`);
      await save({ ...state, snapshot: { startAt, tables, previousId: running?.id ?? null } });
    }
    if (sourceCfg && state.phase === 'building' && state.snapshot && !state.snapshot.signal) {
      const signal = await requestIncrementalSnapshot(sourceCfg, input.source['signal.data.collection'], state.snapshot.tables);
      await save({ ...state, snapshot: { ...state.snapshot, signal } });
    }

    // Not while swapping: an instance writing the generation's names would write into a table the
    // swap renames away (or, after EXCHANGE, into the previous data). Except with a conditional swap
    // (store.trySwap, Redis): the instance writes one namespace in every phase and must keep running
    // for the swap's condition (caught up with the live sink at that instant) to become true.
    const trySwap = store.trySwap?.bind(store);
    if (state.phase === 'building' || state.phase === 'draining' || (state.phase === 'swapping' && trySwap)) await startRebuildSink();

    if (sourceCfg && state.phase === 'building' && state.snapshot && !state.snapshot.done) {
      const snap = state.snapshot;
      const until = Date.now() + (input.snapshotStartTimeoutMs ?? 120_000);
      for (;;) {
        check();
        const inc = await retrying('reading the source\'s snapshot state', () => committedIncremental(kafka, sourceCfg), log, input.signal);
        const ours = inc !== null && inc.id !== snap.previousId ? inc : null;
        if (ours?.finished === 'done') break;
        if (ours?.finished === 'stopped' || (!ours && Date.now() > until)) {
          // The next run requests it again.
          await save({ ...state, snapshot: { startAt: snap.startAt, tables: snap.tables, previousId: inc?.id ?? snap.previousId } });
          throw new Error(
            ours
              ? `the incremental snapshot ${ours.id} feeding the rebuild was stopped; run the same command again to request a new one`
              : `the daemon did not start the incremental snapshot requested by signal ${snap.signal ?? '?'} in ${input.source['signal.data.collection'] ?? 'the signal table'} within ${Math.round((input.snapshotStartTimeoutMs ?? 120_000) / 1000)} s: --from snapshot needs the daemon (cdc-fanout run) running this pipeline; start it and run the same command again`,
          );
        }
        progress(0n, 0, ours ? `snapshot of ${snap.tables.join(', ')}: ${ours.rows} of ~${ours.estimated} rows read${ours.paused ? ' (paused)' : ''}` : `waiting for the daemon to start the snapshot of ${snap.tables.join(', ')} (signal ${snap.signal ?? '?'})`);
        await sleep(pollMs, input.signal);
      }
      // Every snapshot row is committed (the done state commits with the last chunk): below these ends.
      await save({ ...state, snapshot: { ...snap, done: true }, readTo: toOffsets((await partitionsOf(admin, topics)).high) });
    }

    while (state.phase === 'building') {
      check();
      const floor = new Map((state.readTo ?? []).map((o) => [tpKey(o), BigInt(o.offset)]));
      const { partitions, live, mine } = await retrying('reading offsets', async () => {
        const { partitions } = await partitionsOf(admin, topics);
        return { partitions, live: await store.offsets(group, partitions), mine: await store.offsets(state.rebuildGroup, partitions) };
      }, log, input.signal);
      let behind = 0n;
      for (const p of partitions) {
        const target = [live.get(tpKey(p)) ?? 0n, floor.get(tpKey(p)) ?? 0n].reduce((a, b) => (a > b ? a : b));
        const gap = target - (mine.get(tpKey(p)) ?? 0n);
        if (gap > 0n) behind += gap;
      }
      progress(behind, partitions.length, behind === 0n ? 'caught up with the live generation' : `${behind} records behind the live generation (or the log end when the rebuild began)`);
      if (behind === 0n) {
        await save({ ...state, phase: 'swapping', swaps: await retrying('planning the swap', () => store.planSwaps(state.suffix), log, input.signal) });
        break;
      }
      await sleep(pollMs, input.signal);
    }

    if (state.phase === 'swapping') {
      check();
      if (!trySwap) await stopRebuildSink();
      // Indices that appeared since the plan (a table's first record arrived meanwhile) join the swap.
      const planned = new Set((state.swaps ?? []).map((s) => s.generation));
      const extra = (await retrying('planning the swap', () => store.planSwaps(state.suffix), log, input.signal)).filter((s) => !planned.has(s.generation));
      const swaps = [...(state.swaps ?? []), ...extra];
      if (extra.length > 0) await save({ ...state, swaps });
      if (trySwap) {
        for (let tries = 1; ; tries++) {
          check();
          const { partitions } = await retrying('reading the partitions', () => partitionsOf(admin, topics), log, input.signal);
          if (await retrying('swapping', () => trySwap(swaps, state, partitions), log, input.signal)) break;
          if (tries % 20 === 0) progress(0n, partitions.length, `waiting for an instant at which the new generation has every record the live one has (${tries} tries; the live sink keeps moving)`);
          await sleep(Math.min(pollMs, 100), input.signal);
        }
      } else await retrying('swapping', () => store.swap(swaps), log, input.signal);
      const { high } = await retrying('reading the topics\' ends', () => partitionsOf(admin, topics), log, input.signal);
      await save({ ...state, phase: 'draining', swappedAt: new Date().toISOString(), drainTo: toOffsets(high) });
      // From here the rebuild instance writes the live names (rebuildConfig of phase draining); with
      // a conditional swap it kept running and already writes the (now live) generation.
      if (!trySwap) await startRebuildSink();
    }

    while (state.phase === 'draining') {
      check();
      const targets = state.drainTo ?? [];
      const mine = await retrying('reading offsets', () => store.offsets(state.rebuildGroup, targets), log, input.signal);
      let behind = 0n;
      for (const t of targets) {
        const gap = BigInt(t.offset) - (mine.get(tpKey(t)) ?? 0n);
        if (gap > 0n) behind += gap;
      }
      progress(behind, targets.length, behind === 0n ? 'drained to the swap point' : `${behind} records to the swap point`);
      if (behind === 0n) {
        await stopRebuildSink();
        await save({ ...state, phase: 'retiring', dropAfter: new Date(Date.now() + input.graceMs).toISOString() });
        break;
      }
      await sleep(pollMs, input.signal);
    }

    let dropped: string[] = [];
    if (state.phase === 'retiring') {
      const wait = Date.parse(state.dropAfter ?? '') - Date.now();
      if (wait > 0) {
        progress(0n, 0, `keeping the previous generation for ${Math.ceil(wait / 1000)} s (grace period)`);
        await sleep(wait, input.signal);
        check();
      }
      dropped = await retrying('dropping the previous generation', () => store.dropPrevious(state.swaps ?? [], state.suffix), log, input.signal);
      await retrying('deleting the rebuild checkpoints', () => store.dropOffsets(state.rebuildGroup), log, input.signal);
      await admin.deleteGroups([state.rebuildGroup]).catch((e: unknown) => log.debug({ err: e }, 'could not delete the rebuild consumer group'));
      await save({ ...state, phase: 'done', finishedAt: new Date().toISOString() });
      progress(0n, 0, `generation ${state.generation} is live${dropped.length ? `; dropped ${dropped.join(', ')}` : ''}`);
    }
    return { state, resumed, dropped };
  } finally {
    await (handle as SinkHandle | null)?.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}
