/**
 * Rebuilds run by the daemon for the admin API (POST/GET /pipelines/:p/sinks/:s/rebuild): one job
 * per sink at a time, the last job of each sink kept for polling, aborted on shutdown. The state of
 * a rebuild lives in the sink's store (src/daemon/rebuild.ts), so an aborted or crashed job resumes
 * when started again — from the API or with `cdc-fanout rebuild`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import { rebuildSink, type RebuildInput, type RebuildProgress } from './rebuild.js';

/** What the daemon knows of a sink to rebuild it (the rest of RebuildInput comes with the request). */
export type RebuildTarget = Pick<RebuildInput, 'pipeline' | 'topicPrefix' | 'kafka' | 'source' | 'sink'>;

export interface RebuildRequest {
  readonly tables?: readonly string[] | undefined;
  readonly graceMs?: number | undefined;
  /** What the new generation is built from (default `log`). */
  readonly from?: 'log' | 'snapshot' | undefined;
}

export interface RebuildJob {
  readonly id: string;
  readonly pipeline: string;
  readonly sink: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly request: { readonly tables: readonly string[] | null; readonly graceMs: number; readonly from: 'log' | 'snapshot' };
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** The last progress report: generation, phase, records still to apply, message. */
  readonly progress: { readonly generation: number; readonly phase: string; readonly behind: string; readonly message: string } | null;
  readonly error: string | null;
}

export type RebuildResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: number; readonly error: string };

/** Default grace period of the previous generation (as the CLI's --grace). */
export const DEFAULT_GRACE_MS = 600_000;

export class RebuildJobs {
  private readonly jobs = new Map<string, { job: RebuildJob; abort: AbortController; done: Promise<void> }>();

  constructor(private readonly logger: Logger) {}

  start(target: RebuildTarget, req: RebuildRequest): RebuildResult<RebuildJob> {
    const key = `${target.pipeline}\u0000${target.sink.name}`;
    const running = this.jobs.get(key);
    if (running?.job.state === 'running') {
      return { ok: false, status: 409, error: `a rebuild of sink "${target.sink.name}" is already running (job ${running.job.id}, since ${running.job.startedAt}); poll GET …/rebuild` };
    }
    const abort = new AbortController();
    const graceMs = req.graceMs ?? DEFAULT_GRACE_MS;
    const entry = {
      job: {
        id: randomUUID(),
        pipeline: target.pipeline,
        sink: target.sink.name,
        state: 'running',
        request: { tables: req.tables && req.tables.length > 0 ? [...req.tables] : null, graceMs, from: req.from ?? 'log' },
        startedAt: new Date().toISOString(),
        finishedAt: null,
        progress: null,
        error: null,
      } as RebuildJob,
      abort,
      done: Promise.resolve(),
    };
    const onProgress = (p: RebuildProgress): void => {
      entry.job = { ...entry.job, progress: { generation: p.generation, phase: p.phase, behind: p.behind.toString(), message: p.message } };
    };
    this.logger.info({ pipeline: target.pipeline, sink: target.sink.name, job: entry.job.id, request: entry.job.request }, 'admin: rebuild started');
    entry.done = rebuildSink({ ...target, ...(req.tables && req.tables.length > 0 ? { tables: req.tables } : {}), graceMs, from: req.from ?? 'log', logger: this.logger, signal: abort.signal, onProgress }).then(
      () => {
        entry.job = { ...entry.job, state: 'done', finishedAt: new Date().toISOString() };
      },
      (e: unknown) => {
        const error = e instanceof Error ? e.message : String(e);
        entry.job = { ...entry.job, state: 'failed', finishedAt: new Date().toISOString(), error };
        this.logger.error({ pipeline: target.pipeline, sink: target.sink.name, job: entry.job.id, err: error }, 'rebuild failed (it resumes when started again)');
      },
    );
    this.jobs.set(key, entry);
    return { ok: true, value: entry.job };
  }

  last(pipeline: string, sink: string): RebuildJob | undefined {
    return this.jobs.get(`${pipeline}\u0000${sink}`)?.job;
  }

  async stop(): Promise<void> {
    for (const e of this.jobs.values()) e.abort.abort();
    await Promise.all([...this.jobs.values()].map((e) => e.done));
  }
}
