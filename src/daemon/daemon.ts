/**
 * The daemon: every pipeline of the loaded config files, each supervised, plus the admin server.
 * Shutdown (SIGTERM/SIGINT): the admin server stays up answering /health while every pipeline
 * stops gracefully (source: stop reading, flush to Kafka, checkpoint; sinks: finish the batch in
 * hand, commit, close), bounded by `shutdown.timeout.ms`.
 * SIGHUP is restart-only by design: it logs that the config is not reloaded (restart the process;
 * every component resumes exactly from its checkpoints).
 */
import type { Logger } from '../observability/logger.js';
import { daemonMetrics } from '../observability/daemon-metrics.js';
import { redact } from '../spec/secret.js';
import { startAdminServer, type AdminServer, type SinkAction } from './admin/server.js';
import { notRunHere, Pipeline, type PipelineDefinition } from './pipeline.js';
import { DlqJobs, type DlqReplayJob, type DlqResult } from './dlq-jobs.js';
import { RebuildJobs, type RebuildResult, type RebuildTarget } from './rebuild-jobs.js';
import type { DlqListing, DlqTarget } from '../sinks/runtime/dlq-replay.js';
import type { DaemonHistory, PipelineStatus } from './status.js';
import type { RestartPolicy } from './supervisor.js';

export interface AdminSettings {
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

export interface DaemonOptions {
  readonly admin: AdminSettings | false;
  readonly shutdownTimeoutMs: number;
  readonly policy: RestartPolicy;
  readonly logger: Logger;
  /** Resolved secret values, masked wherever they could show. */
  readonly secrets: ReadonlySet<string>;
  /** Called once the admin server listens (before the pipelines have started), with its URL. */
  readonly onAdminListening?: (url: string) => void;
  /** History sample interval for the live page's charts (ms); default 5000. */
  readonly historyIntervalMs?: number;
}

export class Daemon {
  private readonly pipelines: Pipeline[];
  private admin: AdminServer | undefined;
  private stopping: Promise<boolean> | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private readonly dlqJobs: DlqJobs;
  private readonly rebuildJobs: RebuildJobs;

  constructor(
    defs: readonly PipelineDefinition[],
    private readonly opts: DaemonOptions,
  ) {
    const mask = (s: string): string => redact(s, opts.secrets);
    this.pipelines = defs.map((d) => new Pipeline(d, opts.policy, opts.logger, mask));
    this.dlqJobs = new DlqJobs(opts.logger);
    this.rebuildJobs = new RebuildJobs(opts.logger);
    daemonMetrics.pipelines.set(this.pipelines.length);
  }

  get adminUrl(): string | undefined {
    return this.admin?.url;
  }

  async status(): Promise<PipelineStatus[]> {
    return redact(await Promise.all(this.pipelines.map((p) => p.status())), this.opts.secrets);
  }

  ready(): { ready: boolean; notReady: string[] } {
    const notReady = this.pipelines.flatMap((p) => p.notReady().map((x) => `${p.name}/${x}`));
    return redact({ ready: notReady.length === 0, notReady }, this.opts.secrets);
  }

  history(): DaemonHistory {
    return redact({ intervalMs: this.historyIntervalMs, pipelines: this.pipelines.map((p) => p.history()) }, this.opts.secrets);
  }

  private get historyIntervalMs(): number {
    return this.opts.historyIntervalMs ?? 5000;
  }

  async start(): Promise<void> {
    if (this.opts.admin) {
      this.admin = await startAdminServer(
        {
          pipelines: () => this.status(),
          ready: () => this.ready(),
          history: () => this.history(),
          sinkAction: (p, s, a) => this.sinkAction(p, s, a),
          dlqList: async (p, s, table) => {
            const t = this.dlqTarget(p, s);
            return t.ok ? this.masked(await this.dlqJobs.list(t.value, table)) : t;
          },
          dlqReplay: (p, s, req) => {
            const t = this.dlqTarget(p, s);
            if (!t.ok) return t;
            if (this.stopping) return { ok: false, status: 503, error: 'the daemon is shutting down' };
            return this.masked(this.dlqJobs.start(t.value, req));
          },
          rebuild: (p, s, req) => {
            const t = this.rebuildTarget(p, s);
            if (!t.ok) return t;
            if (this.stopping) return { ok: false, status: 503, error: 'the daemon is shutting down' };
            return redact(this.rebuildJobs.start(t.value, req), this.opts.secrets);
          },
          rebuildStatus: (p, s) => {
            const t = this.rebuildTarget(p, s);
            if (!t.ok) return t;
            const job = this.rebuildJobs.last(p, s);
            return job ? redact({ ok: true as const, value: job }, this.opts.secrets) : { ok: false, status: 404, error: `no rebuild of sink "${s}" since the daemon started (cdc-fanout rebuild runs outside the daemon)` };
          },
          snapshot: async (p, req) => {
            const pipe = this.pipelines.find((x) => x.name === p);
            if (!pipe) return { ok: false, status: 404, error: `no pipeline "${p}" (have: ${this.pipelines.map((x) => x.name).join(', ')})` };
            this.opts.logger.info({ pipeline: p, request: req }, `admin: snapshot ${req.kind}`);
            if (!pipe.runsSource) return { ok: false, status: 409, error: notRunHere(p) };
            try {
              if (req.kind === 'execute' && req.type === 'blocking') {
                // Runs to its end in the background; progress in the status.
                pipe.snapshot(req).catch((e: unknown) => this.opts.logger.error({ pipeline: p, err: redact(String(e), this.opts.secrets) }, 'blocking snapshot failed'));
                return { ok: true, value: { id: 'blocking', status: 'accepted' } };
              }
              return { ok: true, value: await pipe.snapshot(req) };
            } catch (e) {
              return { ok: false, status: 409, error: redact(e instanceof Error ? e.message : String(e), this.opts.secrets) };
            }
          },
          dlqReplayStatus: (p, s) => {
            const t = this.dlqTarget(p, s);
            if (!t.ok) return t;
            const job = this.dlqJobs.last(p, s);
            return job ? this.masked({ ok: true, value: job }) : { ok: false, status: 404, error: `no dead-letter replay of sink "${s}" since the daemon started` };
          },
        },
        { ...this.opts.admin, logger: this.opts.logger },
      );
      this.opts.onAdminListening?.(this.admin.url);
    }
    let sampling = false;
    this.sampler = setInterval(() => {
      if (sampling) return;
      sampling = true;
      void Promise.all(this.pipelines.map((p) => p.sample()))
        .catch((err: unknown) => this.opts.logger.debug({ err: String(err) }, 'history sample failed'))
        .finally(() => {
          sampling = false;
        });
    }, this.historyIntervalMs);
    this.sampler.unref();
    await Promise.all(this.pipelines.map((p) => p.start()));
  }

  private async sinkAction(pipeline: string, sink: string, action: SinkAction): Promise<{ ok: true; state: PipelineStatus['source']['state'] } | { ok: false; status: number; error: string }> {
    const p = this.pipelines.find((x) => x.name === pipeline);
    if (!p) return { ok: false, status: 404, error: `no pipeline "${pipeline}" (have: ${this.pipelines.map((x) => x.name).join(', ')})` };
    const s = p.sink(sink);
    if (!s) return { ok: false, status: 404, error: `pipeline "${pipeline}" has no sink "${sink}" (have: ${p.sinkNames().join(', ') || 'none'})` };
    this.opts.logger.info({ pipeline, sink, action }, `admin: ${action} sink ${pipeline}/${sink}`);
    if (action === 'pause') await s.pause();
    else if (action === 'resume') await s.resume();
    else void s.restart();
    return { ok: true, state: s.state };
  }

  private rebuildTarget(pipeline: string, sink: string): RebuildResult<RebuildTarget> {
    const p = this.pipelines.find((x) => x.name === pipeline);
    if (!p) return { ok: false, status: 404, error: `no pipeline "${pipeline}" (have: ${this.pipelines.map((x) => x.name).join(', ')})` };
    const t = p.rebuildTarget(sink);
    if (!t) return { ok: false, status: 404, error: `pipeline "${pipeline}" has no sink "${sink}" (have: ${p.sinkNames().join(', ') || 'none'})` };
    return { ok: true, value: t };
  }

  private dlqTarget(pipeline: string, sink: string): DlqResult<DlqTarget> {
    const p = this.pipelines.find((x) => x.name === pipeline);
    if (!p) return { ok: false, status: 404, error: `no pipeline "${pipeline}" (have: ${this.pipelines.map((x) => x.name).join(', ')})` };
    const t = p.dlq(sink);
    if (!t) return { ok: false, status: 404, error: `pipeline "${pipeline}" has no sink "${sink}" (have: ${p.sinkNames().join(', ') || 'none'})` };
    return { ok: true, value: t };
  }

  private masked<T extends DlqListing | DlqReplayJob>(r: DlqResult<T>): DlqResult<T> {
    return r.ok ? { ok: true, value: redact(r.value, this.opts.secrets) } : { ...r, error: redact(r.error, this.opts.secrets) };
  }

  /** Graceful stop; resolves true when everything stopped within the timeout. */
  stop(): Promise<boolean> {
    this.stopping ??= (async () => {
      const log = this.opts.logger;
      log.info({ timeoutMs: this.opts.shutdownTimeoutMs }, 'shutting down');
      if (this.sampler) clearInterval(this.sampler);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.opts.shutdownTimeoutMs);
      });
      const all = Promise.allSettled([this.dlqJobs.stop(), this.rebuildJobs.stop(), ...this.pipelines.map((p) => p.stop())]).then((rs) => {
        for (const r of rs) if (r.status === 'rejected') log.error({ err: redact(String(r.reason), this.opts.secrets) }, 'pipeline stop failed');
        return rs.every((r) => r.status === 'fulfilled');
      });
      const ok = await Promise.race([all, timeout]);
      clearTimeout(timer);
      await this.admin?.close();
      if (ok) log.info('stopped cleanly');
      else log.error({ timeoutMs: this.opts.shutdownTimeoutMs }, 'shutdown did not complete in time (or a component failed to stop); exiting anyway — components resume from their last checkpoint');
      return ok;
    })();
    return this.stopping;
  }
}
