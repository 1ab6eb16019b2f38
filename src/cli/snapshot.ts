/**
 * `cdc-fanout snapshot <pipeline> [--tables a,b]`: requests an ad-hoc re-snapshot of captured tables
 * by inserting an `execute-snapshot` row into the pipeline's signal table
 * (`source.signal.data.collection`, Debezium's signal.data.collection); the running daemon picks
 * it up (src/daemon/signals.ts) while streaming continues.
 */
import pg from 'pg';
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString } from '../spec/secret.js';
import { writeSnapshotSignal } from '../daemon/signals.js';
import { createLogger } from '../observability/logger.js';
import { parseSourceConfig, sourceSpec } from '../source/config.js';
import { clientConfig, qualified, resolveTables } from '../source/connection.js';
import { ADMIN_HINT, resolveAdmin } from './admin-address.js';

const fail = (s: string): number => {
  process.stderr.write(`${s}\n`);
  return 1;
};

/** The admin URL of a daemon that answers for this config, or an error saying what was tried. */
async function findDaemon(opts: { config: string; admin?: string }): Promise<{ url: string } | { error: string }> {
  const target = resolveAdmin(opts);
  if (target.kind === 'ambiguous') return { error: target.message };
  if (target.kind === 'no-admin') return { url: `pid ${target.record.pid} (no admin server)` };
  try {
    const res = await fetch(new URL('/health', target.url), { signal: AbortSignal.timeout(3000) });
    if (res.ok) return { url: target.url };
  } catch {
    // not answering: below
  }
  return {
    error: `no running daemon found: nothing answers at ${target.url} (from ${target.how}); a snapshot signal is only picked up by a running daemon, so nothing was requested — start \`cdc-fanout run --config ${opts.config}\` first, or ${ADMIN_HINT}`,
  };
}

export async function snapshotCommand(pipelineName: string, opts: { config: string; tables?: string; admin?: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return fail(loaded.errors.map(formatError).join('\n'));
  const p = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return fail(`no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})`);
  const { source } = p.config;
  const signalTable = source['signal.data.collection'];
  if (!signalTable) return fail(`${p.file}: source.signal.data.collection is not set; set it (e.g. public.cdc_fanout_signal) to enable ad-hoc snapshots, then restart the daemon`);
  const own: Record<string, unknown> = {};
  const fields: Readonly<Record<string, unknown>> = source;
  for (const k of Object.keys(sourceSpec.shape)) if (fields[k] !== undefined) own[k] = fields[k];
  const cfg = parseSourceConfig(own);
  const daemon = await findDaemon(opts);
  if ('error' in daemon) return fail(daemon.error);
  const client = new pg.Client(clientConfig(cfg));
  try {
    await client.connect();
    const captured = (await resolveTables(client, cfg, createLogger({ level: 'warn' }))).map(qualified);
    const wanted = opts.tables ? opts.tables.split(',').map((t) => t.trim()).filter(Boolean) : captured;
    const unknown = wanted.filter((t) => !captured.includes(t));
    if (unknown.length) return fail(`not captured by pipeline "${pipelineName}": ${unknown.join(', ')} (captured: ${captured.join(', ') || 'none'})`);
    if (wanted.length === 0) return fail(`pipeline "${pipelineName}" captures no tables`);
    const id = await writeSnapshotSignal(client, signalTable, wanted);
    process.stdout.write(`snapshot requested: signal ${id} in ${signalTable} for ${wanted.join(', ')} (daemon ${daemon.url}; progress: cdc-fanout status --config ${opts.config} --json)\n`);
    return 0;
  } catch (err) {
    return fail(`snapshot request failed: ${maskString((err as Error).message, loaded.secrets)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
