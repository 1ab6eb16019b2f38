import { describe, expect, it } from 'vitest';
import { silentLogger } from '../observability/logger.js';
import type { HandleContext, SinkHandle } from './handles.js';
import { restartDelay, Supervisor, type RestartPolicy } from './supervisor.js';

const policy: RestartPolicy = { initialBackoffMs: 20, maxBackoffMs: 200, maxAttempts: 0, stableAfterMs: 60_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A scripted component: fails to start `failStarts` times, exposes its failure callback. */
function scripted(failStarts: number) {
  let starts = 0;
  const created: { ctx: HandleContext; stopped: boolean; paused: boolean; resumes: number }[] = [];
  const factory = (ctx: HandleContext): SinkHandle => {
    const me = { ctx, stopped: false, paused: false, resumes: 0 };
    created.push(me);
    return {
      async start() {
        starts++;
        if (starts <= failStarts) throw new Error(`boom ${starts} password=hunter2`);
      },
      async stop() {
        me.stopped = true;
      },
      async pause() {
        me.paused = true;
      },
      async resume() {
        me.paused = false;
        me.resumes++;
      },
      state() {
        return { state: 'RUNNING' as const };
      },
      async status() {
        return { partitions: [], lag: null, timeLagMs: null, lagUpdatedAt: null, failedTables: [] };
      },
    };
  };
  return { factory, created, starts: () => starts };
}

function supervisor(factory: (ctx: HandleContext) => SinkHandle, p: RestartPolicy = policy) {
  return new Supervisor(factory, { pipeline: 'p', component: 'sink:s', policy: p, logger: silentLogger, mask: (s) => s.replace('hunter2', '[redacted]') });
}

describe('Supervisor', () => {
  it('shows STANDBY with the reason while start() waits for another daemon, then STARTING, then RUNNING; no failure, no restart', async () => {
    let release: () => void = () => undefined;
    let ctx: HandleContext | undefined;
    const factory = (c: HandleContext): SinkHandle => {
      ctx = c;
      return {
        start: () => new Promise<void>((r) => (release = r)),
        stop: async () => undefined,
        pause: async () => undefined,
        resume: async () => undefined,
        state: () => ({ state: 'RUNNING' as const }),
        status: async () => ({ partitions: [], lag: null, timeLagMs: null, lagUpdatedAt: null, failedTables: [] }),
      };
    };
    const s = supervisor(factory);
    const started = s.start();
    expect(s.state).toBe('STARTING');
    ctx!.standby!('standby: another daemon runs it (password=hunter2)');
    expect(s.state).toBe('STANDBY');
    expect(s.reason).toBe('standby: another daemon runs it (password=[redacted])');
    ctx!.standby!(null);
    expect(s.state).toBe('STARTING');
    release();
    await started;
    expect(s.state).toBe('RUNNING');
    expect(s.restarts).toBe(0);
    expect(s.lastError).toBeUndefined();
    // A late standby call of a stopped generation changes nothing.
    await s.stop();
    ctx!.standby!('late');
    expect(s.state).toBe('STOPPED');
  });

  it('restarts a failing start with backoff, showing FAILED(reason) then RESTARTING, then RUNNING', async () => {
    const c = scripted(2);
    const s = supervisor(c.factory);
    await s.start();
    expect(s.state).toBe('FAILED');
    expect(s.reason).toBe('boom 1 password=[redacted]');
    expect(s.nextRestartAt).toBeDefined();
    await sleep(200);
    expect(s.state).toBe('RUNNING');
    expect(s.restarts).toBe(2);
    expect(c.starts()).toBe(3);
    expect(s.lastError?.message).toBe('boom 2 password=[redacted]');
    // failed instances were stopped
    expect(c.created.slice(0, 2).every((x) => x.stopped)).toBe(true);
    await s.stop();
    expect(s.state).toBe('STOPPED');
  });

  it('restarts a component that fails while running, and ignores late failures of old instances', async () => {
    const c = scripted(0);
    const s = supervisor(c.factory);
    await s.start();
    expect(s.state).toBe('RUNNING');
    const first = c.created[0]!;
    first.ctx.onFailure(new Error('connection lost'));
    expect(s.state).toBe('FAILED');
    expect(s.reason).toBe('connection lost');
    await sleep(100);
    expect(s.state).toBe('RUNNING');
    first.ctx.onFailure(new Error('stale failure from the old instance'));
    expect(s.state).toBe('RUNNING');
    expect(c.created).toHaveLength(2);
    await s.stop();
  });

  it('gives up after maxAttempts and stays FAILED until restarted by hand', async () => {
    const c = scripted(100);
    const s = supervisor(c.factory, { ...policy, maxAttempts: 2 });
    await s.start();
    await sleep(300);
    expect(s.state).toBe('FAILED');
    expect(s.reason).toContain('gave up after 2 restarts');
    expect(c.starts()).toBe(3);
    await s.stop();
  });

  it('pause survives a restart; resume and restart work', async () => {
    const c = scripted(0);
    const s = supervisor(c.factory);
    await s.start();
    await s.pause();
    expect(s.state).toBe('PAUSED');
    expect(c.created[0]!.paused).toBe(true);
    await s.restart();
    expect(s.state).toBe('PAUSED');
    expect(c.created[0]!.stopped).toBe(true);
    expect(c.created[1]!.paused).toBe(true);
    await s.resume();
    expect(s.state).toBe('RUNNING');
    expect(c.created[1]!.paused).toBe(false);
    await s.stop();
    expect(c.created[1]!.stopped).toBe(true);
  });

  it('resume on a running sink is passed on (it retries the sink\'s failed tables)', async () => {
    const c = scripted(0);
    const s = supervisor(c.factory);
    await s.start();
    await s.resume();
    expect(s.state).toBe('RUNNING');
    expect(c.created[0]!.resumes).toBe(1);
    await s.stop();
  });

  it('backoff doubles up to the cap, with ±20% jitter', () => {
    const p: RestartPolicy = { initialBackoffMs: 1000, maxBackoffMs: 60_000, maxAttempts: 0, stableAfterMs: 1 };
    expect(restartDelay(1, p, () => 0.5)).toBe(1000);
    expect(restartDelay(3, p, () => 0.5)).toBe(4000);
    expect(restartDelay(20, p, () => 0.5)).toBe(60_000);
    expect(restartDelay(1, p, () => 0)).toBe(800);
    expect(restartDelay(1, p, () => 1)).toBe(1200);
  });
});
