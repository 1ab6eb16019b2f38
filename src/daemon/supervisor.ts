/**
 * Supervises one component (a source or a sink): starts it, and when it fails shows
 * FAILED(reason) while waiting an exponential backoff, then RESTARTING while a fresh instance
 * starts, then RUNNING. A source whose start waits for another daemon (HA) shows STANDBY(reason)
 * meanwhile — not a failure, no restart — then STARTING when it takes over. A failure never touches other components. Pause/resume/restart are
 * explicit operations; stop() is graceful and final.
 */
import type { Logger } from '../observability/logger.js';
import { daemonMetrics } from '../observability/daemon-metrics.js';
import type { ComponentHandle, HandleContext } from './handles.js';
import type { ComponentState, ErrorInfo } from './status.js';

export interface RestartPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Consecutive failed restarts before giving up (state stays FAILED); 0 = never give up. */
  readonly maxAttempts: number;
  /** A component RUNNING this long has its backoff reset. */
  readonly stableAfterMs: number;
}

export const defaultRestartPolicy: RestartPolicy = { initialBackoffMs: 1000, maxBackoffMs: 60_000, maxAttempts: 0, stableAfterMs: 60_000 };

export function restartDelay(attempt: number, p: RestartPolicy, random: () => number = Math.random): number {
  const exp = Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

const PAUSED_REASON = 'paused through the admin API (resume to continue)';

export interface SupervisorOptions {
  readonly pipeline: string;
  /** `source` or `sink:<name>`. */
  readonly component: string;
  readonly policy: RestartPolicy;
  readonly logger: Logger;
  /** Masks secrets in error messages before they are stored or logged. */
  readonly mask: (text: string) => string;
}

export class Supervisor<H extends ComponentHandle> {
  private current: H | undefined;
  private stateValue: ComponentState = 'STOPPED';
  private reasonValue: string | undefined;
  private lastErrorValue: ErrorInfo | undefined;
  private restartsValue = 0;
  private attempt = 0;
  private runningSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | undefined;
  private generation = 0;
  private stopping = false;
  private pausedByUser = false;

  constructor(
    private readonly factory: (ctx: HandleContext) => H,
    private readonly opts: SupervisorOptions,
  ) {}

  get state(): ComponentState {
    return this.stateValue;
  }
  get reason(): string | undefined {
    return this.reasonValue;
  }
  get lastError(): ErrorInfo | undefined {
    return this.lastErrorValue;
  }
  get restarts(): number {
    return this.restartsValue;
  }
  get nextRestartAt(): string | undefined {
    return this.nextAt ? new Date(this.nextAt).toISOString() : undefined;
  }
  get handle(): H | undefined {
    return this.current;
  }

  /** Starts the component; a failure is handled by the restart loop, so this never rejects. */
  async start(): Promise<void> {
    this.stopping = false;
    await this.launch('STARTING');
  }

  private setState(s: ComponentState, reason?: string): void {
    if (s !== this.stateValue) this.opts.logger.info({ component: this.opts.component, state: s, reason }, `${this.opts.component}: ${s}${reason ? ` (${reason})` : ''}`);
    this.stateValue = s;
    this.reasonValue = reason;
    daemonMetrics.setState(this.opts.pipeline, this.opts.component, s);
  }

  private async launch(initial: 'STARTING' | 'RESTARTING'): Promise<void> {
    const gen = ++this.generation;
    this.nextAt = undefined;
    this.setState(initial, initial === 'RESTARTING' ? (this.reasonValue?.startsWith('restart') ? this.reasonValue : `restarting after: ${this.reasonValue ?? 'a failure'}`) : 'starting');
    let handle: H;
    try {
      handle = this.factory({ onFailure: (err) => this.fail(gen, err), standby: (reason) => this.standby(gen, reason) });
      this.current = handle;
      await handle.start();
    } catch (err) {
      this.fail(gen, err);
      return;
    }
    if (gen !== this.generation || this.stopping) return;
    this.runningSince = Date.now();
    if (this.pausedByUser && 'pause' in handle && typeof handle.pause === 'function') {
      await (handle.pause as () => Promise<void>)();
      this.setState('PAUSED', PAUSED_REASON);
    } else this.setState('RUNNING');
  }

  /** The start of generation `gen` waits as standby (reason) or took over (null). */
  private standby(gen: number, reason: string | null): void {
    if (gen !== this.generation || this.stopping) return;
    if (reason !== null) {
      // Waiting as standby is a healthy state: a later failure starts the backoff afresh.
      if (this.stateValue !== 'STANDBY') this.attempt = 0;
      this.setState('STANDBY', this.opts.mask(reason));
    } else if (this.stateValue === 'STANDBY') this.setState('STARTING', 'taking over from the daemon that ran it');
  }

  private fail(gen: number, err: unknown): void {
    if (gen !== this.generation || this.stopping) return;
    const error = err instanceof Error ? err : new Error(String(err));
    const message = this.opts.mask(error.message).replace(/\s*\n\s*/g, ' ');
    this.lastErrorValue = { message, at: new Date().toISOString() };
    this.opts.logger.error({ component: this.opts.component, err: { name: error.name, message } }, `${this.opts.component} failed: ${message}`);
    daemonMetrics.failures.inc({ pipeline: this.opts.pipeline, component: this.opts.component });
    if (this.runningSince && Date.now() - this.runningSince >= this.opts.policy.stableAfterMs) this.attempt = 0;
    this.runningSince = 0;
    this.attempt++;
    this.generation++;
    const failed = this.current;
    this.current = undefined;
    void failed?.stop().catch(() => undefined);
    const { maxAttempts } = this.opts.policy;
    if (maxAttempts > 0 && this.attempt > maxAttempts) {
      this.setState('FAILED', `${message} (gave up after ${maxAttempts} restarts; restart it via the admin API)`);
      return;
    }
    const delay = restartDelay(this.attempt, this.opts.policy);
    this.nextAt = Date.now() + delay;
    // The reason is the error itself (nextRestartAt says when the next attempt is).
    this.setState('FAILED', message);
    const myGen = this.generation;
    this.timer = setTimeout(() => {
      if (myGen !== this.generation || this.stopping) return;
      this.restartsValue++;
      daemonMetrics.restarts.inc({ pipeline: this.opts.pipeline, component: this.opts.component });
      void this.launch('RESTARTING');
    }, delay);
    this.timer.unref();
  }

  /** Pause (sinks): stops consuming without closing; survives restarts until resume(). */
  async pause(): Promise<void> {
    this.pausedByUser = true;
    const h = this.current;
    if (h && 'pause' in h && typeof h.pause === 'function' && this.stateValue === 'RUNNING') {
      await (h.pause as () => Promise<void>)();
      this.setState('PAUSED', PAUSED_REASON);
    }
  }

  /** Resume (sinks): continues a paused sink; on a running sink it retries its failed tables. */
  async resume(): Promise<void> {
    this.pausedByUser = false;
    const h = this.current;
    if (!h || !('resume' in h) || typeof h.resume !== 'function') return;
    if (this.stateValue === 'PAUSED') {
      await (h.resume as () => Promise<void>)();
      this.setState('RUNNING');
    } else if (this.stateValue === 'RUNNING') {
      await (h.resume as () => Promise<void>)();
    }
  }

  /** Stops the current instance gracefully and starts a fresh one now (resets the backoff). */
  async restart(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.generation++;
    const h = this.current;
    this.current = undefined;
    this.attempt = 0;
    this.setState('RESTARTING', 'restart requested');
    await h?.stop().catch((err: unknown) => this.opts.logger.warn({ component: this.opts.component, err: this.opts.mask(String(err)) }, 'stop before restart failed'));
    this.restartsValue++;
    daemonMetrics.restarts.inc({ pipeline: this.opts.pipeline, component: this.opts.component });
    await this.launch('RESTARTING');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.generation++;
    this.nextAt = undefined;
    const h = this.current;
    this.current = undefined;
    if (h) await h.stop();
    this.setState('STOPPED', 'stopped (daemon shutting down)');
  }
}
