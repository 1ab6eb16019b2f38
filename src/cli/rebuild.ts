/**
 * `cdc-fanout rebuild <pipeline> --sink <name> [--from log|snapshot] [--tables a,b] [--grace ms]`: builds a
 * new generation of the sink's target from offset 0 of its topics (or from a fresh incremental snapshot) while the live sink (in the
 * running daemon) keeps applying, swaps atomically when it has caught up, and drops the previous
 * generation after the grace period (src/daemon/rebuild.ts, docs/rebuild.md). Runs in the
 * foreground with progress lines; interrupted or killed, the same command resumes it.
 */
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString } from '../spec/secret.js';
import { createLogger } from '../observability/logger.js';
import { rebuildSink } from '../daemon/rebuild.js';
import { generationKeyOf } from '../sinks/redis/namespace.js';

export interface RebuildFlags {
  config: string;
  sink: string;
  from: 'log' | 'snapshot';
  tables?: string;
  grace: number;
  plan?: boolean;
}

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const fail = (s: string): number => {
  process.stderr.write(`${s}\n`);
  return 1;
};

export async function rebuildCommand(pipelineName: string, opts: RebuildFlags): Promise<number> {
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return fail(loaded.errors.map(formatError).join('\n'));
  const p = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return fail(`no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})`);
  const sink = p.config.sinks.find((s) => s.name === opts.sink);
  if (!sink) return fail(`pipeline "${pipelineName}" has no sink "${opts.sink}" (have: ${p.config.sinks.map((s) => s.name).join(', ') || 'none'})`);
  const { source } = p.config;
  const tables = opts.tables?.split(',').map((t) => t.trim()).filter(Boolean);
  const badTable = tables?.find((t) => !/^[^.\s]+\.[^.\s]+$/.test(t));
  if (badTable !== undefined) return fail(`--tables: "${badTable}" is not "schema.table", e.g. public.orders`);
  const controller = new AbortController();
  const stop = (): void => {
    say('stopping; run the same command again to resume');
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let last = '';
  try {
    const result = await rebuildSink({
      pipeline: pipelineName,
      topicPrefix: source['topic.prefix'],
      kafka: p.config.kafka,
      source,
      sink,
      ...(tables && tables.length > 0 ? { tables } : {}),
      graceMs: opts.grace,
      from: opts.from,
      logger: createLogger({ level: 'warn' }),
      signal: controller.signal,
      ...(opts.plan ? { planOnly: true } : {}),
      onProgress: (pr) => {
        const line = `generation ${pr.generation} ${pr.phase}: ${pr.message}`;
        if (line !== last) say(line);
        last = line;
      },
    });
    if (opts.plan) {
      const st = result.state;
      say(`sink "${sink.name}" (${sink.type}): ${result.resumed ? `generation ${st.generation} is in phase ${st.phase}; running the command resumes it` : `the next rebuild builds generation ${st.generation}`}`);
      if (sink.type === 'redis') say(`its rows are written under the key namespace ${st.suffix} (${st.suffix}:<write key>, versions at cdc:ver@${st.suffix}:<write key>); the swap sets the generation pointer key ${generationKeyOf(sink as { 'generation.key'?: string }, st.group)} to "${st.suffix}"`);
      else say(`its targets are named <live name>${st.suffix} (${sink.type === 'clickhouse' ? `tables, e.g. public_orders${st.suffix}` : `indices, e.g. shop.public.orders${st.suffix}`}); one created beforehand is used as it is`);
      return 0;
    }
    say(`sink "${sink.name}": generation ${result.state.generation} is live${result.resumed ? ' (resumed)' : ''}`);
    return 0;
  } catch (err) {
    return fail(`rebuild failed: ${maskString((err as Error).message, loaded.secrets)}`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
