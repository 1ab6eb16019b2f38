/**
 * `cdc-fanout dlq list|replay <pipeline> --sink NAME`: the dead-letter topic of a sink
 * (errors.tolerance: dlq). Core in src/sinks/runtime/dlq-replay.ts; docs/dlq.md.
 *
 * Who applies a replay (one model, so two processes never replay the same sink at once):
 *   - a daemon runs this config (its record, --admin or CDC_ADMIN_URL) → the CLI asks it through
 *     the admin API (POST …/dlq/replay, then polls GET …/dlq/replay) and prints its report; a
 *     daemon that is recorded or named but does not answer is an error, never a silent fallback;
 *   - no daemon runs it → the CLI builds the sink from the config and replays in this process.
 * `list` only reads (Kafka and the sink's stored replay position), so it always runs in the CLI.
 * Exit codes: 0 done (replay: nothing failed again); 1 the command failed (message says why);
 * 2 usage error; 3 replay finished but some records failed again and are back in the DLQ.
 */
import { formatError } from '../config/issues.js';
import { loadConfig, type LoadedPipeline } from '../config/load.js';
import { maskString } from '../spec/secret.js';
import type { DlqReplayJob } from '../daemon/dlq-jobs.js';
import { buildDefinitions } from '../daemon/definitions.js';
import { createLogger } from '../observability/logger.js';
import { checkDlqRequest, DlqUsageError, listDlq, replayDlq, type DlqListing, type DlqReplayReport, type DlqTarget } from '../sinks/runtime/dlq-replay.js';
import { ADMIN_HINT, resolveAdmin, type AdminFlags } from './admin-address.js';

export const EXIT_FAILED_AGAIN = 3;

export interface DlqFlags extends AdminFlags {
  config: string;
  sink: string;
  table?: string;
  dryRun?: boolean;
  json?: boolean;
  token?: string;
}

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const fail = (s: string): number => {
  process.stderr.write(`${s}\n`);
  return 1;
};

/** The pipeline's DLQ target for the sink, or an error message (unknown pipeline/sink, no DLQ, bad --table). */
async function target(pipelineName: string, opts: DlqFlags): Promise<{ t: DlqTarget; secrets: ReadonlySet<string>; file: string } | { error: string }> {
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return { error: loaded.errors.map(formatError).join('\n') };
  const p: LoadedPipeline | undefined = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return { error: `no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})` };
  const names = p.config.sinks.map((s) => (s as { name: string }).name);
  if (!names.includes(opts.sink)) return { error: `pipeline "${pipelineName}" has no sink "${opts.sink}" (have: ${names.join(', ') || 'none'})` };
  const logger = createLogger({ level: process.env.CDC_LOG_LEVEL ?? 'warn' });
  const [def] = await buildDefinitions([p], { logger });
  const t = def?.sinks.find((s) => s.name === opts.sink)?.dlq;
  if (!t) return { error: `pipeline "${pipelineName}" has no sink "${opts.sink}"` };
  try {
    checkDlqRequest(t, opts.table);
  } catch (e) {
    if (e instanceof DlqUsageError) return { error: `${p.file}: ${e.message}` };
    throw e;
  }
  return { t, secrets: loaded.secrets, file: p.file };
}

export function formatListing(l: DlqListing): string {
  const lines: string[] = [];
  if (!l.exists) return `dead-letter topic ${l.dlqTopic} of sink "${l.sink}" does not exist: nothing was ever dead-lettered`;
  lines.push(`dead-letter topic ${l.dlqTopic} (sink "${l.sink}" of pipeline "${l.pipeline}"): ${l.total} record(s), ${l.pending} not replayed yet`);
  for (const p of l.partitions) lines.push(`  partition ${p.partition}: offsets [${p.earliest}, ${p.end}), replayed up to ${p.replayedTo ?? '(never replayed)'}`);
  for (const t of l.tables) {
    lines.push(`  ${t.table}: ${t.total} record(s), ${t.pending} pending`);
    for (const e of t.errors) lines.push(`      ${e.count} × ${e.message.replace(/\s*\n\s*/g, ' ').slice(0, 300)}`);
  }
  if (l.first.length) {
    lines.push('  first pending records (dlq partition@offset  origin  error):');
    for (const r of l.first) lines.push(`    ${r.dlq}  ${r.origin}  ${r.error.replace(/\s*\n\s*/g, ' ').slice(0, 200)}`);
  }
  if (l.pending > 0) lines.push(`replay them once the cause is fixed: cdc-fanout dlq replay ${l.pipeline} --sink ${l.sink} -c <config> [--dry-run]`);
  return lines.join('\n');
}

export function formatReport(r: DlqReplayReport): string {
  const lines: string[] = [];
  const what = r.dryRun ? 'dry run (nothing changed) of' : 'replayed';
  const ranges = r.partitions.map((p) => `${p.partition}:[${p.from}, ${p.to})`).join(' ');
  if (r.partitions.length === 0) return `nothing to replay in ${r.dlqTopic} (sink "${r.sink}"): every record is at or below the stored replay position`;
  lines.push(`${what} ${r.dlqTopic} (sink "${r.sink}" of pipeline "${r.pipeline}"${r.table ? `, table ${r.table}` : ''}) partitions ${ranges}`);
  if (r.dryRun) {
    lines.push(`  read ${r.read}: would replay ${r.replayed}, cannot be decoded ${r.failedAgain}, other tables ${r.keptOtherTables}, other sinks ${r.otherSinks}`);
  } else {
    lines.push(`  read ${r.read}: applied ${r.applied}, stale ${r.stale} (the sink already held a newer change), failed again ${r.failedAgain} (back in the DLQ), other tables kept ${r.keptOtherTables}, other sinks ${r.otherSinks}`);
  }
  for (const t of r.tables) lines.push(`  ${t.table}: replayed ${t.replayed}, failed again ${t.failedAgain}`);
  if (r.failures.length) {
    lines.push(r.dryRun ? '  records that cannot be replayed:' : '  failed again (first ones; they stay dead-lettered — fix the cause and replay again):');
    for (const f of r.failures) lines.push(`    ${f.dlq}  ${f.origin}  ${f.error.replace(/\s*\n\s*/g, ' ').slice(0, 300)}`);
  }
  if (r.interrupted) lines.push('  INTERRUPTED before the end: the applied part is committed; rerun the command to continue');
  return lines.join('\n');
}

export async function dlqListCommand(pipelineName: string, opts: DlqFlags): Promise<number> {
  const found = await target(pipelineName, opts);
  if ('error' in found) return fail(found.error);
  try {
    const l = await listDlq(found.t, { table: opts.table });
    say(opts.json ? JSON.stringify(l, null, 2) : formatListing(l));
    return 0;
  } catch (e) {
    return fail(`dlq list failed: ${maskString((e as Error).message, found.secrets)}`);
  }
}

type Daemon = { kind: 'daemon'; url: string; how: string } | { kind: 'none'; why: string } | { kind: 'error'; message: string };

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(new URL('/health', url), { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

/** The daemon that runs this config (it then applies the replay), none, or why neither can be decided. */
async function findDaemon(opts: DlqFlags): Promise<Daemon> {
  const target = resolveAdmin(opts);
  if (target.kind === 'ambiguous') return { kind: 'error', message: target.message };
  if (target.kind === 'no-admin') {
    return { kind: 'error', message: `a daemon runs ${target.record.config} (pid ${target.record.pid}) without an admin server (--no-admin): the replay must run in it or with it stopped — restart it with an admin port, or stop it and rerun this command (it then replays itself)` };
  }
  if (await answers(target.url)) return { kind: 'daemon', url: target.url, how: target.how };
  const named = target.how === '--admin' || target.how === 'CDC_ADMIN_URL';
  if (named || target.record) {
    return { kind: 'error', message: `cannot reach the daemon at ${target.url} (from ${target.how})${target.record ? `, recorded as pid ${target.record.pid}` : ''}; nothing was replayed — start it or stop it for good (then this command replays itself), or ${ADMIN_HINT}` };
  }
  return { kind: 'none', why: `no daemon answers (${target.how})` };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function replayThroughDaemon(pipelineName: string, opts: DlqFlags, d: { url: string; how: string }): Promise<DlqReplayReport | { error: string }> {
  const base = new URL(`/pipelines/${encodeURIComponent(pipelineName)}/sinks/${encodeURIComponent(opts.sink)}/dlq/replay`, d.url);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  const explain = async (res: Response): Promise<string> => {
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    if (res.status === 401) return `the daemon at ${d.url} requires a bearer token (pass --token or set CDC_ADMIN_TOKEN)`;
    if (res.status === 404 && body.error?.startsWith('no pipeline')) return `the daemon at ${d.url} (found from ${d.how}) does not run pipeline "${pipelineName}": ${body.error} — ${ADMIN_HINT}`;
    return `the daemon at ${d.url} refused the replay (HTTP ${res.status}): ${body.error ?? res.statusText}`;
  };
  let res: Response;
  try {
    res = await fetch(base, { method: 'POST', headers, body: JSON.stringify({ ...(opts.table ? { table: opts.table } : {}), ...(opts.dryRun ? { dryRun: true } : {}) }), signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    return { error: `cannot reach the daemon at ${d.url}: ${(e as Error).message}` };
  }
  if (res.status !== 202) return { error: await explain(res) };
  const started = (await res.json()) as DlqReplayJob;
  process.stderr.write(`the daemon at ${d.url} runs this config: it applies the replay (job ${started.id}); waiting for it to finish…\n`);
  for (;;) {
    await sleep(1000);
    let job: DlqReplayJob;
    try {
      const r = await fetch(base, { headers, signal: AbortSignal.timeout(30_000) });
      if (!r.ok) return { error: await explain(r) };
      job = (await r.json()) as DlqReplayJob;
    } catch (e) {
      return { error: `lost the daemon at ${d.url} while job ${started.id} ran: ${(e as Error).message} (what it committed stays; rerun to continue)` };
    }
    if (job.id !== started.id) return { error: `the daemon started another replay job (${job.id}) meanwhile; check its result with GET ${base.href}` };
    if (job.state === 'done' && job.report) return job.report;
    if (job.state === 'failed') return { error: `the daemon's replay failed: ${job.error ?? 'unknown error'}` };
  }
}

export async function dlqReplayCommand(pipelineName: string, opts: DlqFlags): Promise<number> {
  const found = await target(pipelineName, opts);
  if ('error' in found) return fail(found.error);
  const daemon = await findDaemon(opts);
  if (daemon.kind === 'error') return fail(daemon.message);
  let report: DlqReplayReport;
  if (daemon.kind === 'daemon') {
    const r = await replayThroughDaemon(pipelineName, opts, daemon);
    if ('error' in r) return fail(r.error);
    report = r;
  } else {
    process.stderr.write(`${daemon.why}: ${opts.dryRun ? 'reading' : 'replaying'} in this process\n`);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      report = await replayDlq(found.t, { table: opts.table, dryRun: opts.dryRun, signal: abort.signal });
    } catch (e) {
      return fail(`dlq replay failed: ${maskString((e as Error).message, found.secrets)}`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  say(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.interrupted) return 1;
  return report.failedAgain > 0 && !report.dryRun ? EXIT_FAILED_AGAIN : 0;
}
