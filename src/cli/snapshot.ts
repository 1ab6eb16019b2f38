/**
 * `cdc-fanout snapshot <pipeline> [--tables a,b]`: requests an ad-hoc re-snapshot of captured tables
 * by inserting an `execute-snapshot` row into the pipeline's signal table
 * (`source.signal.data.collection`, Debezium's signal.data.collection); the running daemon picks
 * it up (src/daemon/signals.ts) while streaming continues.
 */
import pg from 'pg';
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString } from '../config/secret.js';
import { writeSnapshotSignal } from '../daemon/signals.js';
import { createLogger } from '../observability/logger.js';
import { parseSourceConfig, sourceSpec } from '../source/config.js';
import { clientConfig, qualified, resolveTables } from '../source/connection.js';

const fail = (s: string): number => {
  process.stderr.write(`${s}\n`);
  return 1;
};

export async function snapshotCommand(pipelineName: string, opts: { config: string; tables?: string }): Promise<number> {
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return fail(loaded.errors.map(formatError).join('\n'));
  const p = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return fail(`no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})`);
  const source = p.config.source as Record<string, unknown>;
  const signalTable = source['signal.data.collection'] as string | undefined;
  if (!signalTable) return fail(`${p.file}: source.signal.data.collection is not set; set it (e.g. public.cdc_fanout_signal) to enable ad-hoc snapshots, then restart the daemon`);
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(sourceSpec.shape)) if (source[k] !== undefined) own[k] = source[k];
  const cfg = parseSourceConfig(own);
  const client = new pg.Client(clientConfig(cfg));
  try {
    await client.connect();
    const captured = (await resolveTables(client, cfg, createLogger({ level: 'warn' }))).map(qualified);
    const wanted = opts.tables ? opts.tables.split(',').map((t) => t.trim()).filter(Boolean) : captured;
    const unknown = wanted.filter((t) => !captured.includes(t));
    if (unknown.length) return fail(`not captured by pipeline "${pipelineName}": ${unknown.join(', ')} (captured: ${captured.join(', ') || 'none'})`);
    if (wanted.length === 0) return fail(`pipeline "${pipelineName}" captures no tables`);
    const id = await writeSnapshotSignal(client, signalTable, wanted);
    process.stdout.write(`snapshot requested: signal ${id} in ${signalTable} for ${wanted.join(', ')}\n`);
    return 0;
  } catch (err) {
    return fail(`snapshot request failed: ${maskString((err as Error).message, loaded.secrets)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
