/**
 * `cdc-fanout snapshot <pipeline> [--tables a,b] [--where t=filter] [--type incremental|blocking]
 * [--pause|--resume|--stop]`: writes a Debezium-style signal row (execute-snapshot, pause-snapshot,
 * resume-snapshot, stop-snapshot) into the pipeline's signal table (`source.signal.data.collection`);
 * the running daemon picks it up (src/daemon/signals.ts) and the source runs it while streaming
 * continues (src/source/incremental-snapshot.ts). Progress: `cdc-fanout status`, the live page.
 */
import pg from 'pg';
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString } from '../spec/secret.js';
import { specFields } from '../spec/spec-fields.js';
import { writeSignal, type SignalRequest } from '../daemon/signals.js';
import { createLogger } from '../observability/logger.js';
import { parseSourceConfig, sourceSpec } from '../source/config.js';
import { clientConfig, qualified, resolveServers, resolveTables } from '../source/connection.js';
import { ADMIN_HINT, resolveAdmin } from './admin-address.js';
import { USAGE_ERROR } from './exit-codes.js';

const fail = (s: string, code = 1): number => {
  process.stderr.write(`${s}\n`);
  return code;
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

export interface SnapshotFlags {
  readonly config: string;
  readonly tables?: string;
  readonly where?: readonly string[];
  readonly type?: 'incremental' | 'blocking';
  readonly pause?: boolean;
  readonly resume?: boolean;
  readonly stop?: boolean;
  readonly admin?: string;
}

export async function snapshotCommand(pipelineName: string, opts: SnapshotFlags): Promise<number> {
  const controls = (['pause', 'resume', 'stop'] as const).filter((k) => opts[k]);
  if (controls.length > 1) return fail(`--${controls.join(' and --')} exclude each other: give one`, USAGE_ERROR);
  const control = controls[0];
  if (control && (opts.where?.length || (opts.tables && control !== 'stop'))) return fail(`--${control} acts on the running incremental snapshot; --tables and --where start one (only --stop takes --tables: the tables to remove from it) — give either`, USAGE_ERROR);
  const conditions: Record<string, string> = {};
  for (const w of opts.where ?? []) {
    const i = w.indexOf('=');
    if (i <= 0 || !w.slice(i + 1).trim()) return fail(`--where "${w}" is not schema.table=filter (e.g. --where "public.orders=status = 'open'")`, USAGE_ERROR);
    conditions[w.slice(0, i).trim()] = w.slice(i + 1).trim();
  }
  if (opts.type === 'blocking' && Object.keys(conditions).length > 0) return fail('--where applies to incremental snapshots only (drop --type blocking)', USAGE_ERROR);
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return fail(loaded.errors.map(formatError).join('\n'));
  const p = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return fail(`no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})`);
  const { source } = p.config;
  const signalTable = source['signal.data.collection'];
  if (!signalTable) return fail(`${p.file}: source.signal.data.collection is not set; set it (e.g. public.cdc_fanout_signal) to enable snapshots on request, then restart the daemon`);
  const cfg = parseSourceConfig(specFields(source, sourceSpec));
  const daemon = await findDaemon(opts);
  if ('error' in daemon) return fail(daemon.error);
  // The signal is written: to the primary (of database.hosts, when set).
  let primary: typeof cfg;
  try {
    primary = (await resolveServers(cfg)).primary;
  } catch (e) {
    return fail((e as Error).message);
  }
  const client = new pg.Client(clientConfig(primary));
  client.on('error', () => undefined); // a lost server fails the next query with its message
  try {
    await client.connect();
    let req: SignalRequest;
    let what: string;
    if (control) {
      const only = control === 'stop' && opts.tables ? opts.tables.split(',').map((t) => t.trim()).filter(Boolean) : [];
      req = only.length ? { kind: control, tables: only } : { kind: control };
      what = only.length ? `stop of ${only.join(', ')} in the incremental snapshot` : `${control} of the incremental snapshot`;
    } else {
      const tables = await resolveTables(client, cfg, createLogger({ level: 'warn' }));
      const captured = tables.map(qualified);
      const type = opts.type ?? 'incremental';
      const keyless = tables.filter((t) => t.keyColumns.length === 0).map(qualified);
      // Without --tables an incremental snapshot takes every captured table it can read in key order.
      const wanted = opts.tables ? opts.tables.split(',').map((t) => t.trim()).filter(Boolean) : type === 'incremental' ? captured.filter((t) => !keyless.includes(t)) : captured;
      if (!opts.tables && type === 'incremental' && keyless.length > 0) {
        process.stderr.write(`note: ${keyless.join(', ')} ${keyless.length === 1 ? 'has' : 'have'} no primary key, so ${keyless.length === 1 ? 'it is' : 'they are'} left out of the incremental snapshot (snapshot ${keyless.length === 1 ? 'it' : 'them'} with --type blocking)\n`);
      }
      const noKey = type === 'incremental' ? wanted.filter((t) => keyless.includes(t)) : [];
      if (noKey.length) return fail(`${noKey.join(', ')}: no primary key (or replica identity index), which an incremental snapshot needs to read in key order; give ${noKey.length === 1 ? 'it' : 'them'} one, or use --type blocking`);
      const unknown = [...wanted, ...Object.keys(conditions)].filter((t) => !captured.includes(t));
      if (unknown.length) return fail(`not captured by pipeline "${pipelineName}": ${[...new Set(unknown)].join(', ')} (captured: ${captured.join(', ') || 'none'})`);
      const stray = Object.keys(conditions).filter((t) => !wanted.includes(t));
      if (stray.length) return fail(`--where names ${stray.join(', ')}, which is not among the tables to snapshot (${wanted.join(', ')})`);
      if (wanted.length === 0) return fail(keyless.length ? `pipeline "${pipelineName}" captures only tables without a primary key (${keyless.join(', ')}); snapshot them with --type blocking` : `pipeline "${pipelineName}" captures no tables`);
      req = { kind: 'execute', tables: wanted, conditions, type };
      what = `${type} snapshot of ${wanted.join(', ')}${Object.keys(conditions).length ? ` (where ${Object.entries(conditions).map(([t, f]) => `${t}: ${f}`).join('; ')})` : ''}`;
    }
    const id = await writeSignal(client, signalTable, req);
    process.stdout.write(`requested: ${what} — signal ${id} in ${signalTable} (daemon ${daemon.url}; progress: cdc-fanout status --config ${opts.config})\n`);
    return 0;
  } catch (err) {
    return fail(`snapshot request failed: ${maskString((err as Error).message, loaded.secrets)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
