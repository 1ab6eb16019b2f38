/**
 * Dead-letter replays run by the daemon for the admin API: one job per sink at a time (a second
 * request while one runs is refused with 409), the last job of each sink kept for polling. Jobs are
 * aborted on shutdown; what they committed stays (the replay position lives in the sink's store)
 * and a rerun continues from there.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import { DlqUsageError, listDlq, replayDlq, type DlqListing, type DlqReplayReport, type DlqTarget } from '../sinks/runtime/dlq-replay.js';

export interface DlqReplayJob {
  readonly id: string;
  readonly pipeline: string;
  readonly sink: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly request: { readonly table: string | null; readonly dryRun: boolean };
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly report: DlqReplayReport | null;
  readonly error: string | null;
}

export type DlqResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: number; readonly error: string };

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class DlqJobs {
  private readonly jobs = new Map<string, { job: DlqReplayJob; abort: AbortController; done: Promise<void> }>();

  constructor(private readonly logger: Logger) {}

  async list(target: DlqTarget, table: string | undefined): Promise<DlqResult<DlqListing>> {
    try {
      return { ok: true, value: await listDlq(target, { table }) };
    } catch (e) {
      return { ok: false, status: e instanceof DlqUsageError ? 400 : 500, error: errorText(e) };
    }
  }

  /** Starts a replay job; refused while one of the same sink runs. */
  start(target: DlqTarget, req: { table?: string | undefined; dryRun?: boolean | undefined }): DlqResult<DlqReplayJob> {
    const key = `${target.pipeline}\u0000${target.config.name}`;
    const running = this.jobs.get(key);
    if (running?.job.state === 'running') {
      return { ok: false, status: 409, error: `a replay of sink "${target.config.name}" is already running (job ${running.job.id}, since ${running.job.startedAt}); poll GET …/dlq/replay until it finishes` };
    }
    const abort = new AbortController();
    let job: DlqReplayJob = {
      id: randomUUID(),
      pipeline: target.pipeline,
      sink: target.config.name,
      state: 'running',
      request: { table: req.table ?? null, dryRun: req.dryRun === true },
      startedAt: new Date().toISOString(),
      finishedAt: null,
      report: null,
      error: null,
    };
    this.logger.info({ pipeline: job.pipeline, sink: job.sink, job: job.id, request: job.request }, 'admin: dead-letter replay started');
    const entry = { job, abort, done: Promise.resolve() };
    entry.done = replayDlq(target, { table: req.table, dryRun: req.dryRun, signal: abort.signal }).then(
      (report) => {
        job = { ...job, state: 'done', finishedAt: new Date().toISOString(), report };
        entry.job = job;
      },
      (e: unknown) => {
        job = { ...job, state: 'failed', finishedAt: new Date().toISOString(), error: errorText(e) };
        entry.job = job;
        this.logger.error({ pipeline: job.pipeline, sink: job.sink, job: job.id, err: errorText(e) }, 'dead-letter replay failed');
      },
    );
    this.jobs.set(key, entry);
    return { ok: true, value: job };
  }

  /** The last replay job of a sink (running or finished). */
  last(pipeline: string, sink: string): DlqReplayJob | undefined {
    return this.jobs.get(`${pipeline}\u0000${sink}`)?.job;
  }

  /** Aborts running jobs and waits for them to stop (their committed part stays). */
  async stop(): Promise<void> {
    for (const e of this.jobs.values()) e.abort.abort();
    await Promise.all([...this.jobs.values()].map((e) => e.done));
  }
}
