/** `cdc-fanout status`: asks a running daemon's admin API for /pipelines and prints a summary. */
import type { PipelineStatus } from '../daemon/status.js';

export interface StatusFlags {
  adminUrl: string;
  token?: string;
  json?: boolean;
}

export async function statusCommand(opts: StatusFlags): Promise<number> {
  const url = new URL('/pipelines', opts.adminUrl);
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, signal: AbortSignal.timeout(5000) });
  } catch (err) {
    process.stderr.write(`cannot reach the daemon at ${opts.adminUrl}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message} (is \`cdc-fanout run\` running? pass --admin-url)\n`);
    return 1;
  }
  if (res.status === 401) {
    process.stderr.write(`the daemon at ${opts.adminUrl} requires a bearer token (pass --token or set CDC_ADMIN_TOKEN)\n`);
    return 1;
  }
  if (!res.ok) {
    process.stderr.write(`${url.href}: HTTP ${res.status}\n`);
    return 1;
  }
  const body = (await res.json()) as { pipelines: PipelineStatus[] };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  for (const p of body.pipelines) {
    const slot = p.source.slot;
    const slotText = slot
      ? slot.exists
        ? `  slot ${slot.slot} lag ${slot.lagBytes ?? 'unknown'} B / ${slot.lagMs === null ? 'unknown' : `${Math.round(slot.lagMs / 1000)} s`} wal_status ${slot.walStatus ?? 'unknown'}`
        : `  slot ${slot.slot} MISSING`
      : '';
    process.stdout.write(`${p.name}  source ${p.source.state}${p.source.reason ? ` (${p.source.reason})` : ''}  lsn ${p.source.lastLsn ?? '-'}${slotText}\n`);
    for (const w of slot?.warnings ?? []) process.stdout.write(`  WARNING ${w}\n`);
    for (const s of p.sinks) {
      const lag = s.partitions.reduce((n, x) => n + (x.lag ?? 0), 0);
      process.stdout.write(`  sink ${s.name} [${s.type}]  ${s.state}${s.reason ? ` (${s.reason})` : ''}  lag ${lag}  restarts ${s.restarts}\n`);
    }
  }
  return 0;
}
