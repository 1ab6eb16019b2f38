/** Test helpers: run the real daemon (`node bin/cdc-fanout.js run`) as a child process and poll it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { PipelineStatus } from '../../src/daemon/status.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js');

export interface DaemonProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  /** Everything the daemon wrote (stdout + stderr). */
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startDaemon(config: string, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<DaemonProcess> {
  const proc = spawn(process.execPath, [bin, 'run', '--config', config, '--admin-port', '0', '--shutdown-timeout-ms', '30000', ...extraArgs], {
    env: { ...process.env, CDC_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start its admin server in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /admin server listening on (https?:\/\/[^"\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before starting:\n${out}`)));
  });
  return {
    proc,
    url,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

export async function pipelines(url: string, token?: string): Promise<PipelineStatus[]> {
  const res = await fetch(`${url}/pipelines`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`/pipelines: HTTP ${res.status}`);
  return ((await res.json()) as { pipelines: PipelineStatus[] }).pipelines;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Parses Prometheus text exposition: sample name+labels → value; throws on a malformed line. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`malformed metrics line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}
