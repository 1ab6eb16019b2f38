/**
 * One pipeline at runtime: a supervised source and independently supervised sinks. Stop order:
 * the source first (stop reading the WAL, flush to Kafka, checkpoint), then the sinks (finish the
 * batch in hand, commit offsets, close) in parallel.
 */
import type { Logger } from '../observability/logger.js';
import type { SinkFactory, SinkHandle, SourceFactory, SourceHandle } from './handles.js';
import { RateMeter } from './rate.js';
import type { PipelineStatus, SinkStatus, SourceStatus } from './status.js';
import { Supervisor, type RestartPolicy } from './supervisor.js';

export interface PipelineDefinition {
  readonly name: string;
  readonly file: string;
  readonly topicPrefix: string;
  readonly bootstrapServers: string;
  readonly source: SourceFactory;
  readonly sinks: readonly { readonly name: string; readonly type: string; readonly factory: SinkFactory }[];
}

interface SinkEntry {
  readonly name: string;
  readonly type: string;
  readonly sup: Supervisor<SinkHandle>;
  readonly rate: RateMeter;
}

export class Pipeline {
  readonly name: string;
  private readonly source: Supervisor<SourceHandle>;
  private readonly sourceRate = new RateMeter();
  private readonly sinkEntries: SinkEntry[];

  constructor(
    private readonly def: PipelineDefinition,
    policy: RestartPolicy,
    logger: Logger,
    mask: (s: string) => string,
  ) {
    this.name = def.name;
    const log = logger.child({ pipeline: def.name });
    this.source = new Supervisor(def.source, { pipeline: def.name, component: 'source', policy, logger: log, mask });
    this.sinkEntries = def.sinks.map((s) => ({
      name: s.name,
      type: s.type,
      sup: new Supervisor(s.factory, { pipeline: def.name, component: `sink:${s.name}`, policy, logger: log, mask }),
      rate: new RateMeter(),
    }));
  }

  async start(): Promise<void> {
    await Promise.all([this.source.start(), ...this.sinkEntries.map((s) => s.sup.start())]);
  }

  async stop(): Promise<void> {
    await this.source.stop();
    await Promise.all(this.sinkEntries.map((s) => s.sup.stop()));
  }

  sink(name: string): Supervisor<SinkHandle> | undefined {
    return this.sinkEntries.find((s) => s.name === name)?.sup;
  }

  sinkNames(): string[] {
    return this.sinkEntries.map((s) => s.name);
  }

  /** True when the source and every sink are RUNNING or PAUSED. */
  ready(): boolean {
    return [this.source, ...this.sinkEntries.map((s) => s.sup)].every((s) => s.state === 'RUNNING' || s.state === 'PAUSED');
  }

  async status(): Promise<PipelineStatus> {
    const src = await this.source.handle?.status().catch(() => undefined);
    const source: SourceStatus = {
      state: this.source.state,
      reason: this.source.reason,
      restarts: this.source.restarts,
      lastError: this.source.lastError,
      nextRestartAt: this.source.nextRestartAt,
      lastLsn: src?.lastLsn ?? null,
      eventsPublished: src?.eventsPublished ?? 0,
      eventsPerSec: this.sourceRate.update(src?.eventsPublished ?? 0),
      slotLagBytes: src?.slotLagBytes ?? null,
      slotLagMs: src?.slotLagMs ?? null,
      slot: src?.slot ?? null,
      snapshot: src?.snapshot ?? [],
      details: src?.details,
    };
    const sinks: SinkStatus[] = await Promise.all(this.sinkEntries.map(async (e) => {
      const st = await e.sup.handle?.status().catch(() => undefined);
      // The supervisor's state wins unless it is RUNNING and the sink reports trouble itself.
      const own = e.sup.state === 'RUNNING' && st?.state && st.state !== 'RUNNING' ? st.state : undefined;
      const partitions = st?.partitions ?? [];
      const lags = partitions.map((p) => p.lag).filter((l): l is number => l !== null);
      return {
        name: e.name,
        type: e.type,
        state: own ?? e.sup.state,
        reason: own ? st?.reason : e.sup.reason,
        restarts: e.sup.restarts,
        lastError: e.sup.lastError,
        nextRestartAt: e.sup.nextRestartAt,
        records: st?.records ?? 0,
        recordsPerSec: e.rate.update(st?.records ?? 0),
        lag: lags.length ? lags.reduce((a, b) => a + b, 0) : null,
        partitions,
        details: st?.details,
      };
    }));
    return { name: this.def.name, file: this.def.file, topicPrefix: this.def.topicPrefix, kafka: { bootstrapServers: this.def.bootstrapServers }, source, sinks };
  }
}
