/** Port and HTTP probes used by the health checks. */
import { execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may take it before it is bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** "pid 123 (java)" for the process listening on a TCP port, when `ss` can tell. */
export function listenerOf(port: number): string {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    if (m) return `pid ${m[2]} (${m[1]})`;
    return out.trim() === '' ? 'nothing' : 'an unknown process';
  } catch {
    return 'an unknown process';
  }
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export async function httpGet(url: string, timeoutMs = 2000): Promise<HttpResult | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch {
    return undefined;
  }
}

/** Poll `check` until it returns true, the deadline passes (false), or `abort` returns a reason. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  abort?: () => string | undefined,
  intervalMs = 500,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return { ok: true };
    const why = abort?.();
    if (why !== undefined) return { ok: false, reason: why };
    if (Date.now() >= deadline) return { ok: false, reason: `not healthy after ${Math.round(timeoutMs / 1000)}s` };
    await sleep(intervalMs);
  }
}
