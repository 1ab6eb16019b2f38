/**
 * The shared start/stop logic for services the stack runs itself (Kafka, ClickHouse, Elasticsearch,
 * and Redis/Postgres when nothing is running yet): idempotent up, port-conflict detection, health
 * wait with a log excerpt on failure, and pid-file based down.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** The first signal stack:down sends (default SIGTERM); SIGKILL follows after stopGraceMs. */
  readonly stopSignal?: NodeJS.Signals;
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
  const portsFile = `${launch.pidFile}.ports`;
  const wanted = `${spec.host} ${spec.ports.join(' ')}`;
  if (pid !== undefined) {
    const running = existsSync(portsFile) ? readFileSync(portsFile, 'utf8').trim() : wanted;
    if (running !== wanted) {
      throw new StackError(
        spec.name,
        `already running (pid ${pid}) on ${running.replace(' ', ' ports ')}, not on the configured ${wanted.replace(' ', ' ports ')}. ` +
          `Run \`npm run stack:down -- ${spec.name}\` first to move it.`,
      );
    }
    if ((await spec.health()).healthy) return `already running (pid ${pid})`;
    await assertPortsFree(spec, pid);
    // Ours but not (yet) healthy: maybe still starting from a previous run — wait, then fail clearly.
    await waitHealthy(spec, pid);
    return `was starting, now healthy (pid ${pid})`;
  }
  await assertPortsFree(spec, undefined);
  await spec.prepare(clean);
  const started = startDetached(launch);
  writeFileSync(portsFile, `${wanted}\n`);
  await waitHealthy(spec, started);
  return `started (pid ${started})`;
}

/** Fail when a port is held by any process other than `ours`. */
async function assertPortsFree(spec: ManagedSpec, ours: number | undefined): Promise<void> {
  for (const port of spec.ports) {
    if (!(await portOpen(spec.host, port))) continue;
    const holder = listenerOf(port);
    if (ours !== undefined && holder.startsWith(`pid ${ours} `)) continue;
    throw new StackError(
      spec.name,
      `port ${spec.host}:${port} is already in use by ${holder}, which stack:up did not start. ` +
        `Stop that process, or point ${spec.envHint} at it if it is a compatible ${spec.name}.`,
    );
  }
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
  const r = await stopOwned(spec.launch(), spec.stopGraceMs, spec.stopSignal);
  return r === 'stopped' ? 'stopped' : 'not running';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
