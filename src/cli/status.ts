/**
 * `cdc-fanout status`: asks a running daemon's admin API for /pipelines and prints a summary.
 * Exit codes (for scripts and probes): 0 every component RUNNING, PAUSED or STANDBY and within the lag
 * thresholds; 2 a component is FAILED, STARTING, RESTARTING or STOPPED, a sink has a failed table
 * (stopped at a record it cannot apply while the sink's other tables go on), or a sink is past
 * --max-lag / --max-lag-ms (an unknown lag counts as past a threshold: it cannot be shown to be
 * within it); 1 the status could not be read at all.
 */
import type { PipelineStatus, SinkStatus } from '../daemon/status.js';
import { ADMIN_HINT, resolveAdmin, type AdminFlags } from './admin-address.js';

export interface StatusFlags extends AdminFlags {
  token?: string;
  json?: boolean;
  maxLag?: number;
  maxLagMs?: number;
}

export const EXIT_UNHEALTHY = 2;

const fmtInt = (n: number): string => n.toLocaleString('en-US');
const fmtLag = (s: SinkStatus): string => (s.lag === null ? 'unknown' : fmtInt(s.lag));
const fmtAge = (ms: number | null): string => (ms === null ? 'unknown' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
/** STANDBY: another daemon runs this source (HA); a healthy state, like RUNNING. */
const healthy = (state: string): boolean => state === 'RUNNING' || state === 'PAUSED' || state === 'STANDBY' || state === 'DISABLED';

/** Problems that make the exit code non-zero, one line each. */
export function problems(list: readonly PipelineStatus[], flags: Pick<StatusFlags, 'maxLag' | 'maxLagMs'>): string[] {
  const out: string[] = [];
  for (const p of list) {
    if (!healthy(p.source.state)) out.push(`${p.name}/source is ${p.source.state}${p.source.reason ? `: ${p.source.reason}` : ''}`);
    for (const s of p.sinks) {
      const id = `${p.name}/sink:${s.name}`;
      if (!healthy(s.state)) out.push(`${id} is ${s.state}${s.reason ? `: ${s.reason}` : ''}`);
      for (const t of s.failedTables ?? []) out.push(`${id} table ${t.table ?? t.topic} is FAILED: ${t.error}`);
      if (flags.maxLag !== undefined) {
        if (s.lag === null) out.push(`${id} lag is unknown (--max-lag ${flags.maxLag})`);
        else if (s.lag > flags.maxLag) out.push(`${id} lag ${fmtInt(s.lag)} > --max-lag ${flags.maxLag}`);
      }
      if (flags.maxLagMs !== undefined) {
        if (s.timeLagMs === null) out.push(`${id} time lag is unknown (--max-lag-ms ${flags.maxLagMs})`);
        else if (s.timeLagMs > flags.maxLagMs) out.push(`${id} time lag ${fmtAge(s.timeLagMs)} > --max-lag-ms ${flags.maxLagMs}`);
      }
    }
  }
  return out;
}

export function formatStatus(list: readonly PipelineStatus[]): string {
  const lines: string[] = [];
  const err = (e: { message: string; at: string } | undefined, indent: string): void => {
    if (e) lines.push(`${indent}last error ${e.at}: ${e.message}`);
  };
  for (const p of list) {
    const src = p.source;
    const slot = src.slot;
    const slotText = slot
      ? slot.exists
        ? `  slot ${slot.slot} lag ${slot.lagBytes === null ? 'unknown' : `${fmtInt(slot.lagBytes)} B`} / ${fmtAge(slot.lagMs)} wal_status ${slot.walStatus ?? 'unknown'}`
        : `  slot ${slot.slot} MISSING`
      : '';
    lines.push(`${p.name}  source ${src.state}${src.reason ? ` (${src.reason})` : ''}  lsn ${src.lastLsn ?? '-'}  events ${fmtInt(src.eventsPublished)}  restarts ${src.restarts}${slotText}`);
    for (const w of slot?.warnings ?? []) lines.push(`    WARNING ${w}`);
    for (const t of src.snapshot) {
      if (t.finished) continue;
      const rate = t.rowsPerSecond === undefined ? '' : `  ${fmtInt(t.rowsPerSecond)} rows/s${t.etaSeconds === null || t.etaSeconds === undefined ? '' : `  ETA ${fmtAge(t.etaSeconds * 1000)}`}${t.chunks ? `  chunks ${t.chunks.done}/${t.chunks.total} (${t.threads ?? 1} workers)` : ''}`;
      lines.push(`    snapshot ${t.table}  ${fmtInt(t.done)}${t.total ? ` / ~${fmtInt(t.total)}` : ''} rows${rate}`);
    }
    const inc = src.incremental;
    if (inc) {
      const eta = inc.etaSeconds === null ? '' : `  ETA ${fmtAge(inc.etaSeconds * 1000)}`;
      lines.push(`    incremental snapshot ${inc.id} ${inc.state.toUpperCase()}${inc.table ? `  table ${inc.table}` : ''}  ${fmtInt(inc.rows)} / ~${fmtInt(inc.estimated)} rows  ${fmtInt(inc.rowsPerSecond)} rows/s${inc.state === 'running' ? eta : ''}${inc.tablesLeft.length > 1 ? `  then ${inc.tablesLeft.slice(1).join(', ')}` : ''}`);
    }
    err(src.lastError, '    ');
    for (const s of p.sinks) {
      const latency = s.latencyMs === null ? '' : `  commit→applied ${fmtAge(s.latencyMs)}`;
      lines.push(`  sink ${s.name} [${s.type}]  ${s.state}${s.reason ? ` (${s.reason})` : ''}  lag ${fmtLag(s)} (${fmtAge(s.timeLagMs)})  records ${fmtInt(s.records)}${latency}  restarts ${s.restarts}`);
      err(s.lastError, '      ');
      for (const t of s.failedTables ?? []) {
        lines.push(`    table ${t.table ?? t.topic} FAILED since ${t.since} at ${t.topic}/${t.partition}@${t.offset} (re-applies from offset ${t.resumeFrom ?? 'earliest'}): ${t.error}`);
      }
    }
  }
  return lines.join('\n');
}

export async function statusCommand(opts: StatusFlags): Promise<number> {
  const target = resolveAdmin(opts);
  if (target.kind === 'ambiguous') {
    process.stderr.write(`${target.message}\n`);
    return 1;
  }
  if (target.kind === 'no-admin') {
    process.stderr.write(`the daemon running ${target.record.config} (pid ${target.record.pid}) has no admin server (started with --no-admin); restart it with an admin port to query its status\n`);
    return 1;
  }
  const url = new URL('/pipelines', target.url);
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    process.stderr.write(`cannot reach the daemon at ${target.url} (from ${target.how}): ${cause} — is \`cdc-fanout run\` running? ${ADMIN_HINT}\n`);
    return 1;
  }
  if (res.status === 401) {
    process.stderr.write(`the daemon at ${target.url} requires a bearer token (pass --token or set CDC_ADMIN_TOKEN)\n`);
    return 1;
  }
  if (!res.ok) {
    process.stderr.write(`${url.href}: HTTP ${res.status}\n`);
    return 1;
  }
  const body = (await res.json()) as { pipelines: PipelineStatus[] };
  process.stdout.write(opts.json ? `${JSON.stringify(body, null, 2)}\n` : `${formatStatus(body.pipelines)}\n`);
  const bad = problems(body.pipelines, opts);
  if (bad.length === 0) return 0;
  process.stderr.write(`not healthy (${bad.length}):\n${bad.map((b) => `  ${b}`).join('\n')}\n`);
  return EXIT_UNHEALTHY;
}
