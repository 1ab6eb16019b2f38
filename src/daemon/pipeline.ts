/**
 * One pipeline at runtime: a supervised source and independently supervised sinks. Stop order:
 * the source first (stop reading the WAL, flush to Kafka, checkpoint), then the sinks (finish the
 * batch in hand, commit offsets, close) in parallel.
 */
import type { SnapshotRequest } from '../source/postgres-source.js';
import type { Logger } from '../observability/logger.js';
import type { DlqTarget } from '../sinks/runtime/dlq-replay.js';
import type { RebuildTarget } from './rebuild-jobs.js';
import type { SinkCounters, SinkFactory, SinkHandle, SourceFactory, SourceHandle } from './handles.js';
import { rateBetween, SeriesRing } from './history.js';
import { RateMeter } from './rate.js';
import type { ComponentState, ErrorInfo, PipelineHistory, PipelineStatus, SinkStatus, SourceStatus } from './status.js';
import { Supervisor, type RestartPolicy } from './supervisor.js';
import { daemonMetrics } from '../observability/daemon-metrics.js';

export interface PipelineDefinition {
  readonly name: string;
  readonly file: string;
  readonly topicPrefix: string;
  readonly bootstrapServers: string;
  /** Undefined: this daemon does not run the source (`run --role sinks`). */
  readonly source: SourceFactory | undefined;
  readonly sinks: readonly { readonly name: string; readonly type: string; readonly factory: SinkFactory; readonly counters?: SinkCounters; readonly dlq?: DlqTarget; readonly rebuild?: RebuildTarget }[];
}

/** How many history samples each component keeps (with the daemon's 5 s interval: 10 minutes). */
export const HISTORY_SAMPLES = 120;

interface SinkEntry {
  readonly name: string;
  readonly type: string;
  readonly sup: Supervisor<SinkHandle>;
  readonly rate: RateMeter;
  readonly counters: SinkCounters | undefined;
  readonly history: SeriesRing;
  prevRecords?: { at: number; count: number };
  prevLatency?: { sum: number; count: number };
  latencyMs: number | null;
}

const noCounters: SinkCounters = { records: 0, dlq: 0, latencySumMs: 0, latencyCount: 0, lastError: undefined };

/** Why a request for the source is refused by a daemon that does not run it. */
export const notRunHere = (pipeline: string): string =>
  `this daemon does not run the source of pipeline "${pipeline}" (run --role sinks); send the snapshot request to the daemon that runs it (--role source or all)`;

function latest(a: ErrorInfo | undefined, b: ErrorInfo | undefined): ErrorInfo | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.at >= b.at ? a : b;
}

export class Pipeline {
  readonly name: string;
  /** Undefined when another process runs the source (`--role sinks`): its state reads DISABLED. */
  private readonly source: Supervisor<SourceHandle> | undefined;
  private readonly sourceRate = new RateMeter();
  private readonly sourceHistory = new SeriesRing(['eventsPerSec', 'slotLagBytes'], HISTORY_SAMPLES);
  private prevEvents: { at: number; count: number } | undefined;
  private readonly sinkEntries: SinkEntry[];

  constructor(
    private readonly def: PipelineDefinition,
    policy: RestartPolicy,
    logger: Logger,
    private readonly mask: (s: string) => string,
  ) {
    this.name = def.name;
    const log = logger.child({ pipeline: def.name });
    this.source = def.source ? new Supervisor(def.source, { pipeline: def.name, component: 'source', policy, logger: log, mask }) : undefined;
    if (!this.source) daemonMetrics.setState(def.name, 'source', 'DISABLED');
    this.sinkEntries = def.sinks.map((s) => ({
      name: s.name,
      type: s.type,
      sup: new Supervisor(s.factory, { pipeline: def.name, component: `sink:${s.name}`, policy, logger: log, mask }),
      rate: new RateMeter(),
      counters: s.counters,
      history: new SeriesRing(['recordsPerSec', 'lag', 'timeLagMs', 'latencyMs'], HISTORY_SAMPLES),
      latencyMs: null,
    }));
  }

  async start(): Promise<void> {
    await Promise.all([this.source?.start(), ...this.sinkEntries.map((s) => s.sup.start())]);
  }

  async stop(): Promise<void> {
    await this.source?.stop();
    await Promise.all(this.sinkEntries.map((s) => s.sup.stop()));
  }

  sink(name: string): Supervisor<SinkHandle> | undefined {
    return this.sinkEntries.find((s) => s.name === name)?.sup;
  }

  /** The dead-letter target of a sink (undefined: no such sink, or built without one in tests). */
  dlq(name: string): DlqTarget | undefined {
    return this.def.sinks.find((s) => s.name === name)?.dlq;
  }

  /** What a rebuild of a sink needs (undefined: no such sink, or built without one in tests). */
  rebuildTarget(name: string): RebuildTarget | undefined {
    return this.def.sinks.find((s) => s.name === name)?.rebuild;
  }

  sinkNames(): string[] {
    return this.sinkEntries.map((s) => s.name);
  }

  /**
   * A sink's state as an operator needs it: the supervisor's, unless the supervisor thinks the sink
   * starts or runs — then the runner's own view wins (waiting for topics, joining the group, or
   * retrying a batch against a server that is down: RESTARTING with the error and the next retry).
   */
  private sinkState(e: SinkEntry): { state: ComponentState; reason: string | undefined } {
    const sup = e.sup.state;
    const h = e.sup.handle;
    if ((sup === 'RUNNING' || sup === 'STARTING') && h) {
      const own = h.state();
      if (own.state !== 'STOPPED') return { state: own.state, reason: own.state === 'RUNNING' ? undefined : own.reason ?? e.sup.reason };
    }
    return { state: sup, reason: sup === 'RUNNING' ? undefined : e.sup.reason };
  }

  /**
   * Components that keep the pipeline from being ready: ready means the source is RUNNING or
   * STANDBY (another daemon runs it: this one is a healthy hot standby, and a rollout must not wait
   * for it) and every sink RUNNING or PAUSED (a sink retrying against a down server is RESTARTING,
   * so not ready).
   */
  notReady(): string[] {
    const ok = (s: ComponentState): boolean => s === 'RUNNING' || s === 'PAUSED' || s === 'STANDBY';
    const out: string[] = [];
    if (this.source && !ok(this.source.state)) out.push(`source: ${this.source.state}${this.source.reason ? ` (${this.mask(this.source.reason)})` : ''}`);
    for (const e of this.sinkEntries) {
      const { state, reason } = this.sinkState(e);
      if (!ok(state)) out.push(`sink:${e.name}: ${state}${reason ? ` (${this.mask(reason)})` : ''}`);
    }
    return out;
  }

  /** Takes one history sample of every component (the daemon calls this every few seconds). */
  async sample(now = Date.now()): Promise<void> {
    const src = await this.source?.handle?.status().catch(() => undefined);
    const events = src?.eventsPublished;
    this.sourceHistory.push(now, {
      eventsPerSec: events === undefined ? null : rateBetween(this.prevEvents, now, events),
      slotLagBytes: src?.slotLagBytes ?? null,
    });
    this.prevEvents = events === undefined ? undefined : { at: now, count: events };
    await Promise.all(
      this.sinkEntries.map(async (e) => {
        const c = e.counters ?? noCounters;
        const st = await e.sup.handle?.status().catch(() => undefined);
        const prev = e.prevLatency;
        e.latencyMs = prev && c.latencyCount > prev.count ? Math.round((c.latencySumMs - prev.sum) / (c.latencyCount - prev.count)) : null;
        e.prevLatency = { sum: c.latencySumMs, count: c.latencyCount };
        e.history.push(now, { recordsPerSec: rateBetween(e.prevRecords, now, c.records), lag: st?.lag ?? null, timeLagMs: st?.timeLagMs ?? null, latencyMs: e.latencyMs });
        e.prevRecords = { at: now, count: c.records };
      }),
    );
  }

  /** Whether this daemon runs the pipeline's source (not with `run --role sinks`). */
  get runsSource(): boolean {
    return this.source !== undefined;
  }

  /** A snapshot request for the source (admin API); throws when the source is not running. */
  async snapshot(req: SnapshotRequest): Promise<{ readonly id: string; readonly status: 'accepted' | 'done' }> {
    if (!this.source) throw new Error(notRunHere(this.def.name));
    const h = this.source.handle;
    if (!h?.snapshot || this.source.state !== 'RUNNING') throw new Error(`the source of pipeline "${this.def.name}" is ${this.source.state}; snapshots are requested while it runs`);
    return h.snapshot(req);
  }

  history(): PipelineHistory {
    return { name: this.def.name, source: this.sourceHistory.view(), sinks: this.sinkEntries.map((e) => ({ name: e.name, ...e.history.view() })) };
  }

  async status(): Promise<PipelineStatus> {
    const src = await this.source?.handle?.status().catch(() => undefined);
    const source: SourceStatus = {
      state: this.source?.state ?? 'DISABLED',
      reason: this.source ? this.source.reason : 'not run by this daemon (run --role sinks): another process runs the source',
      restarts: this.source?.restarts ?? 0,
      lastError: this.source?.lastError,
      nextRestartAt: this.source?.nextRestartAt,
      lastLsn: src?.lastLsn ?? null,
      eventsPublished: src?.eventsPublished ?? 0,
      eventsPerSec: this.sourceRate.update(src?.eventsPublished ?? 0),
      slotLagBytes: src?.slotLagBytes ?? null,
      slotLagMs: src?.slotLagMs ?? null,
      slot: src?.slot ?? null,
      snapshot: src?.snapshot ?? [],
      incremental: src?.incremental,
      details: src?.details,
    };
    const sinks: SinkStatus[] = await Promise.all(
      this.sinkEntries.map(async (e) => {
        const st = await e.sup.handle?.status().catch(() => undefined);
        const { state, reason } = this.sinkState(e);
        const c = e.counters ?? noCounters;
        const own = c.lastError ? { message: this.mask(c.lastError.message), at: c.lastError.at } : undefined;
        return {
          name: e.name,
          type: e.type,
          state,
          reason: reason === undefined ? undefined : this.mask(reason),
          restarts: e.sup.restarts,
          lastError: latest(e.sup.lastError, own),
          nextRestartAt: e.sup.nextRestartAt,
          records: c.records,
          recordsPerSec: e.rate.update(c.records),
          lag: st?.lag ?? null,
          timeLagMs: st?.timeLagMs ?? null,
          lagUpdatedAt: st?.lagUpdatedAt ?? null,
          latencyMs: e.latencyMs,
          partitions: st?.partitions ?? [],
          failedTables: (st?.failedTables ?? []).map((t) => ({ ...t, error: this.mask(t.error) })),
          details: st?.details,
        };
      }),
    );
    return { name: this.def.name, file: this.def.file, topicPrefix: this.def.topicPrefix, kafka: { bootstrapServers: this.def.bootstrapServers }, source, sinks };
  }
}
