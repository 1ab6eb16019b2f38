/**
 * The shared start/stop logic for services the stack runs itself (Kafka, ClickHouse, Elasticsearch,
 * and Redis/Postgres when nothing is running yet): idempotent up, port-conflict detection, health
 * wait with a log excerpt on failure, and pid-file based down.
 */
import { listenerOf, portOpen, waitFor } from './net.js';
import { isAlive, runningPid, startDetached, stopOwned, tail, type StartSpec } from './proc.js';
import { shown } from './paths.js';
import { StackError, type Health } from './service.js';

export interface ManagedSpec {
  readonly name: string;
  readonly host: string;
  /** Every port the process binds; all must be free before a start. */
  readonly ports: readonly number[];
  /** Env var that moves this service, quoted in port-conflict messages. */
  readonly envHint: string;
  readonly logFile: string;
  readonly startTimeoutMs: number;
  readonly stopGraceMs: number;
  health(): Promise<Health>;
  /** Write configs, create/format data dirs (called before every start; `clean` wipes data first). */
  prepare(clean: boolean): Promise<void>;
  /** How to launch the process (pidFile/marker identify it later). */
  launch(): StartSpec;
}

export async function managedUp(spec: ManagedSpec, clean: boolean): Promise<string> {
  const launch = spec.launch();
  let pid = runningPid(launch);
  if (pid !== undefined && clean) {
    await stopOwned(launch, spec.stopGraceMs);
    pid = undefined;
  }
  if (pid !== undefined) {
    if ((await spec.health()).healthy) return `already running (pid ${pid})`;
    // Ours but not (yet) healthy: maybe still starting from a previous run — wait, then fail clearly.
    await waitHealthy(spec, pid);
    return `was starting, now healthy (pid ${pid})`;
  }
  for (const port of spec.ports) {
    if (await portOpen(spec.host, port)) {
      throw new StackError(
        spec.name,
        `port ${spec.host}:${port} is already in use by ${listenerOf(port)}, which stack:up did not start. ` +
          `Stop that process, or point ${spec.envHint} at it if it is a compatible ${spec.name}.`,
      );
    }
  }
  await spec.prepare(clean);
  const started = startDetached(launch);
  await waitHealthy(spec, started);
  return `started (pid ${started})`;
}

async function waitHealthy(spec: ManagedSpec, pid: number): Promise<void> {
  const res = await waitFor(
    async () => (await spec.health()).healthy,
    spec.startTimeoutMs,
    () => (isAlive(pid) ? undefined : 'the process exited during start-up'),
  );
  if (!res.ok) {
    throw new StackError(spec.name, `${res.reason}. Log: ${shown(spec.logFile)} — last lines:\n${indent(tail(spec.logFile, 25))}`);
  }
}

export async function managedDown(spec: ManagedSpec): Promise<string> {
  const r = await stopOwned(spec.launch(), spec.stopGraceMs);
  return r === 'stopped' ? 'stopped' : 'not running';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
