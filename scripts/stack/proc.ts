/**
 * Background processes the stack owns: started detached in their own process group, stdout+stderr
 * appended to a log file, tracked by a pid file. Liveness checks also match the command line so a
 * recycled pid is never mistaken for ours.
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Owned {
  readonly pidFile: string;
  /** A string that must appear in /proc/<pid>/cmdline for the pid to count as ours. */
  readonly marker: string;
}

export interface StartSpec extends Owned {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** The pid of our running process, or undefined (stale pid files are removed). */
export function runningPid(owned: Owned): number | undefined {
  if (!existsSync(owned.pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(owned.pidFile, 'utf8').trim(), 10);
  const cmd = Number.isInteger(pid) && pid > 0 ? cmdline(pid) : undefined;
  if (cmd !== undefined && cmd.includes(owned.marker) && !isZombie(pid)) return pid;
  rmSync(owned.pidFile, { force: true });
  return undefined;
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

export function isAlive(pid: number): boolean {
  return cmdline(pid) !== undefined && !isZombie(pid);
}

/** Start detached; returns the pid (also written to the pid file). */
export function startDetached(spec: StartSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.on('error', () => undefined);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** `first` (SIGTERM) to the process group, wait up to `graceMs`, then SIGKILL. Removes the pid file. */
export async function stopOwned(owned: Owned, graceMs: number, first: NodeJS.Signals = 'SIGTERM'): Promise<'stopped' | 'not-running'> {
  const pid = runningPid(owned);
  if (pid === undefined) return 'not-running';
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal(first);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (isAlive(pid) || groupAlive(pid))) await sleep(200);
  if (isAlive(pid) || groupAlive(pid)) {
    signal('SIGKILL');
    const hard = Date.now() + 5000;
    while (Date.now() < hard && (isAlive(pid) || groupAlive(pid))) await sleep(100);
  }
  rmSync(owned.pidFile, { force: true });
  return 'stopped';
}

/** Whether any process is left in the process group `pgid`. */
function groupAlive(pgid: number): boolean {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,stat=', '-g', String(pgid)], { encoding: 'utf8' });
    return out.split('\n').some((l) => l.trim() !== '' && !/\sZ/.test(l));
  } catch {
    return false;
  }
}

/** Last `n` lines of a log file, for failure messages. */
export function tail(file: string, n = 20): string {
  if (!existsSync(file)) return '(no log file yet)';
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}
