/**
 * `cdc-fanout reset-offsets <pipeline> --sink <name> --to earliest|latest|<ISO-8601 time> --yes`
 * Moves a sink's consumed offsets — in the sink's own store, which is where it resumes from, and in
 * its Kafka consumer group for lag tools — to the earliest or latest offsets of its topics, or to the
 * first offset at or after a time (Kafka's ListOffsets by timestamp; the end where nothing is that
 * late), forwards or backwards, through the Sink contract's `resetOffsets` (OffsetStore.reset,
 * src/sinks/sink.ts).
 * Guarded: does nothing without --yes, and refuses while a daemon runs the config (its record, see
 * src/daemon/record.ts), answers on --admin, or while the sink's consumer group has live members
 * (a running sink would overwrite the reset).
 */
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString } from '../spec/secret.js';
import { specFields } from '../spec/spec-fields.js';
import { followsSource, sinkTopics, sourceTopicMatcher } from '../config/sink-topics.js';
import { kafkaClient, type KafkaClient } from '../kafka/client.js';
import { createLogger } from '../observability/logger.js';
import { loadSinkPlugin } from '../sinks/registry.js';
import { sinkGroupId } from '../sinks/group-id.js';
import type { PartitionOffset } from '../sinks/sink.js';
import { daemonRecordsFor } from '../daemon/record.js';
import { resolveAdmin } from './admin-address.js';

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const fail = (s: string): number => {
  process.stderr.write(`${s}\n`);
  return 1;
};

/** The command's options as commander parses them (declared in program.ts). */
export interface ResetFlags {
  config: string;
  sink: string;
  to: string;
  admin?: string;
  adminUrl?: string;
  yes?: boolean;
}

async function answers(adminUrl: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/health', adminUrl), { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Why the reset must not run now (a daemon runs this config), or undefined. */
async function runningDaemon(opts: ResetFlags): Promise<string | undefined> {
  // A daemon recorded for this config counts whatever --admin says.
  const [rec] = daemonRecordsFor(opts.config);
  if (rec) return `a daemon is running ${rec.config} (pid ${rec.pid}, admin ${rec.url ?? 'off'}): stop it first — a running sink would overwrite the reset`;
  const target = resolveAdmin(opts);
  if (target.kind === 'ambiguous') return `${target.message.split('\n')[0]}: stop them first — a running sink would overwrite the reset`;
  if (target.kind === 'no-admin') return `a daemon runs ${target.record.config} (pid ${target.record.pid}, no admin server): stop it first — a running sink would overwrite the reset`;
  if (await answers(target.url)) return `a daemon is running (${target.url}/health answers; found from ${target.how}): stop it first — a running sink would overwrite the reset`;
  if (target.record) return `a daemon runs ${target.record.config} (pid ${target.record.pid}) although ${target.url} does not answer: stop it first — a running sink would overwrite the reset`;
  return undefined;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `--to`: earliest, latest, or an ISO-8601 time with a zone (ms since the epoch); undefined when it is none of them. */
export function resetTarget(to: string): 'earliest' | 'latest' | { readonly time: number } | undefined {
  if (to === 'earliest' || to === 'latest') return to;
  if (!ISO_TIME.test(to)) return undefined;
  const time = Date.parse(to);
  return Number.isFinite(time) ? { time } : undefined;
}

export async function resetOffsetsCommand(pipelineName: string, opts: ResetFlags): Promise<number> {
  const target = resetTarget(opts.to);
  if (target === undefined) return fail(`--to must be "earliest", "latest" or an ISO-8601 time with a zone such as 2026-11-30T12:00:00Z, got "${opts.to}"`);
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) return fail(loaded.errors.map(formatError).join('\n'));
  const p = loaded.pipelines.find((x) => x.config.name === pipelineName);
  if (!p) return fail(`no pipeline "${pipelineName}" in ${opts.config} (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'})`);
  const sinkCfg = p.config.sinks.find((s) => s.name === opts.sink);
  if (!sinkCfg) return fail(`pipeline "${pipelineName}" has no sink "${opts.sink}" (have: ${p.config.sinks.map((s) => s.name).join(', ') || 'none'})`);
  const { source } = p.config;
  const prefix = source['topic.prefix'];
  const follows = followsSource(sinkCfg);
  let topics = follows ? [] : sinkTopics(sinkCfg, prefix, String(source['topic.routing.template']));
  const groupId = sinkGroupId(pipelineName, sinkCfg);

  const running = await runningDaemon(opts);
  if (running) return fail(running);
  const kafkaCfg = p.config.kafka;
  const kafka: KafkaClient = kafkaClient(kafkaCfg, { clientIdSuffix: 'reset-offsets' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([groupId])).groups;
    if (group && group.members.length > 0) return fail(`consumer group ${groupId} has ${group.members.length} live member(s) (state ${group.state}): stop the daemon running this sink first`);
    // A sink that follows the source's selection: the existing topics of the selected tables.
    if (follows) topics = (await admin.listTopics()).filter(sourceTopicMatcher(source)).sort();
    const offsets: PartitionOffset[] = [];
    for (const topic of topics) {
      const parts = await admin.fetchTopicOffsets(topic).catch(() => []);
      if (parts.length === 0) {
        say(`topic ${topic}: does not exist yet, nothing to reset`);
        continue;
      }
      if (typeof target === 'object') {
        for (const x of await admin.fetchTopicOffsetsByTimestamp(topic, target.time)) offsets.push({ topic, partition: x.partition, offset: x.offset });
        continue;
      }
      for (const x of parts) offsets.push({ topic, partition: x.partition, offset: target === 'earliest' ? x.low : x.high });
    }
    for (const o of offsets) say(`${groupId} ${o.topic}[${o.partition}] → ${o.offset} (${opts.to})`);
    if (!opts.yes) {
      return fail('refusing to change offsets without --yes (the plan is above; nothing changed)');
    }
    if (offsets.length === 0) return 0;
    // The sink's own store is what it resumes from.
    const plugin = await loadSinkPlugin(sinkCfg.type);
    const sink = plugin.create(plugin.spec.parse(specFields(sinkCfg, plugin.spec)), { pipeline: pipelineName, sinkName: sinkCfg.name, topicPrefix: prefix, groupId, kafka: kafkaCfg, logger: createLogger({ level: 'warn' }) });
    await sink.open();
    let refused: PartitionOffset[] = [];
    try {
      // OffsetStore.reset (src/sinks/sink.ts, invariant R): the one way offsets move backwards.
      await sink.resetOffsets(offsets);
      const stored = await sink.loadOffsets(offsets.map(({ topic, partition }) => ({ topic, partition })));
      refused = offsets.filter((o) => stored.find((x) => x.topic === o.topic && x.partition === o.partition)?.offset !== o.offset);
    } finally {
      await sink.close();
    }
    if (refused.length) {
      return fail(
        `the ${sinkCfg.type} sink's offset store does not hold the reset offsets for ${refused.map((o) => `${o.topic}[${o.partition}]`).join(', ')} after the reset ` +
          '(another process wrote them meanwhile?): make sure nothing runs this sink and run the command again',
      );
    }
    // Kafka group offsets too (lag tools read them).
    for (const topic of new Set(offsets.map((o) => o.topic))) {
      await admin.setOffsets({ groupId, topic, partitions: offsets.filter((o) => o.topic === topic).map((o) => ({ partition: o.partition, offset: o.offset })) });
    }
    say(`reset ${offsets.length} partition offset(s) of sink "${sinkCfg.name}" to ${opts.to}`);
    return 0;
  } catch (err) {
    return fail(`reset-offsets failed: ${maskString((err as Error).message, loaded.secrets)}`);
  } finally {
    await admin.disconnect();
  }
}

