/**
 * Where the machine's CPU went during a benchmark window: user + system time of every process
 * (all its threads) from /proc/<pid>/stat, grouped by service, and the whole machine's idle time
 * from /proc/stat. On one box that also runs Postgres, Kafka, Elasticsearch and ClickHouse, this
 * says whether a rate is bound by our process or by the cores the other services take.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Names a process (pid, command line) as a service, or undefined to count it under "other". */
export type Classifier = (pid: number, cmdline: string) => string | undefined;

/** The stack's services by command line; benches put their own pids first. */
export function stackService(cmdline: string): string {
  if (/(^|\/)postgres(:| |$)|postgres: /.test(cmdline)) return 'postgres';
  if (/elasticsearch/i.test(cmdline)) return 'elasticsearch';
  if (/kafka\.Kafka|kafka-server|kafka_2\.|\/kafka\//.test(cmdline)) return 'kafka';
  if (/clickhouse/i.test(cmdline)) return 'clickhouse';
  if (/redis-server/.test(cmdline)) return 'redis';
  return 'other';
}

interface Snapshot {
  readonly at: number;
  readonly perPid: Map<number, { service: string; ticks: number }>;
  readonly machine: { total: number; idle: number };
}

function machineTicks(): { total: number; idle: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal guest guest_nice — guest time is already in user.
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: (cpu[3] ?? 0) + (cpu[4] ?? 0) };
}

function snapshot(classify: Classifier): Snapshot {
  const perPid = new Map<number, { service: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (!cmdline) continue; // kernel threads
      perPid.set(pid, { service: classify(pid, cmdline) ?? stackService(cmdline), ticks });
    } catch {
      // the process exited while we read it
    }
  }
  return { at: Date.now(), perPid, machine: machineTicks() };
}

export interface CpuReport {
  readonly windowSeconds: number;
  readonly cores: number;
  /** CPU seconds per service over the window and its share of all cores (1 = the whole machine). */
  readonly byService: Record<string, { cpuSeconds: number; shareOfMachine: number }>;
  /** The machine's idle (incl. iowait) share over the window. */
  readonly idleShare: number;
  readonly note: string;
}

/** Starts a window now; `stop()` returns where the CPU went since. */
export function cpuWindow(classify: Classifier): { stop(): CpuReport } {
  const start = snapshot(classify);
  return {
    stop(): CpuReport {
      const end = snapshot(classify);
      const seconds = (end.at - start.at) / 1000;
      const cores = os.cpus().length;
      const sums = new Map<string, number>();
      for (const [pid, e] of end.perPid) {
        // A process started inside the window counts from zero; one that ended inside it is lost.
        const before = start.perPid.get(pid)?.ticks ?? 0;
        sums.set(e.service, (sums.get(e.service) ?? 0) + Math.max(0, e.ticks - before));
      }
      const byService = Object.fromEntries(
        [...sums.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([s, t]) => [s, { cpuSeconds: Number((t / TICKS_PER_SECOND).toFixed(1)), shareOfMachine: Number((t / TICKS_PER_SECOND / (seconds * cores)).toFixed(3)) }]),
      );
      const dTotal = end.machine.total - start.machine.total;
      return {
        windowSeconds: Number(seconds.toFixed(1)),
        cores,
        byService,
        idleShare: dTotal > 0 ? Number(((end.machine.idle - start.machine.idle) / dTotal).toFixed(3)) : 0,
        note: 'user+system time per process (all threads) from /proc/<pid>/stat, grouped by service; processes that ended inside the window are not counted',
      };
    },
  };
}
