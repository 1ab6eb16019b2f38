/**
 * The seam between the config schema and the components' own specs: the source connector spec
 * (src/source + the event options of src/events), the Kafka spec (src/kafka), the common sink spec
 * (src/sinks/runtime) and the sink plugins (src/sinks/registry.ts, loaded lazily). The schema
 * (schema.ts) composes whatever this file returns.
 */
import { z } from 'zod';
import { eventsSpec } from '../events/config.js';
import { compileTopicNamer, prefixedTopic } from '../events/topics.js';
import { kafkaSpec } from '../kafka/config.js';
import type { SinkPlugin } from '../sinks/plugin.js';
import { loadSinkPlugin, sinkTypes } from '../sinks/registry.js';
import { sinkCommonSpec } from '../sinks/runtime/config.js';
import { sourceSpec } from '../source/config.js';

export type PluginSpec = Pick<SinkPlugin, 'type' | 'description' | 'spec'> & {
  /** Set when the plugin module failed to load: every sink of this type is then a config error. */
  readonly loadError?: string;
};

export interface ConfigComponents {
  /** Source connector spec (Postgres settings merged with event options). */
  readonly source: typeof sourceConnectorSpec;
  readonly kafka: typeof kafkaSpec;
  /** Fields every sink has (name, type, topics/tables, batching, error policy). */
  readonly sinkCommon: typeof sinkCommonSpec;
  /** Sink types, each contributing its own fields (its spec's refinements run too). */
  readonly plugins: readonly PluginSpec[];
}

/** Daemon-level source options (not passed to PostgresSource): ad-hoc snapshot signals. */
export const signalSpec = z.object({
  'signal.data.collection': z
    .string()
    .regex(/^[^.\s]+\.[^.\s]+$/, 'write the signal table as "schema.table", e.g. "public.cdc_fanout_signal"')
    .optional()
    .describe(
      'Signal table ("schema.table", Debezium\'s columns id, type, data) that `cdc-fanout snapshot` writes `execute-snapshot` requests to; the daemon watches it while the pipeline runs. Unset: ad-hoc snapshots are disabled.',
    ),
});

/** Postgres connector settings, event options and signal settings form one `source` block, as in Debezium. */
export const sourceConnectorSpec = z
  .object({ ...sourceSpec.shape, ...eventsSpec.shape, ...signalSpec.shape })
  .strict()
  .superRefine((s, ctx) => {
    if (s['table.include.list'] !== undefined && s['table.exclude.list'] !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['table.exclude.list'], message: 'set table.include.list or table.exclude.list, not both (an include list already leaves out every other table): remove one' });
    }
    if (s['message.prefix.include.list'] !== undefined && s['message.prefix.exclude.list'] !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['message.prefix.exclude.list'], message: 'set message.prefix.include.list or message.prefix.exclude.list, not both (an include list already leaves out every other prefix): remove one' });
    }
    // The topic templates are compiled when the source starts; the same functions check them here.
    const prefix = s['topic.prefix'];
    const checks: [string, () => unknown][] = [
      ['topic.routing.template', () => compileTopicNamer(s['topic.routing.template'], prefix)('public', 'table')],
      ['transaction.topic', () => prefixedTopic(s['transaction.topic'], prefix, 'transaction.topic')],
      ['message.topic', () => prefixedTopic(s['message.topic'], prefix, 'message.topic')],
    ];
    for (const [field, check] of checks) {
      try {
        check();
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [field], message: (e as Error).message.replace(`${field}: `, '') });
      }
    }
  });

let cached: Promise<ConfigComponents> | undefined;

/** Loads every registered sink plugin (once per process). */
export function loadComponents(): Promise<ConfigComponents> {
  cached ??= (async () => {
    const plugins: PluginSpec[] = [];
    const missing: string[] = [];
    for (const type of sinkTypes) {
      try {
        plugins.push(await loadSinkPlugin(type));
      } catch (err) {
        // The type stays known (so the message is not "unknown type"), but a sink using it is an
        // error: its fields cannot be checked and `run` could not create it.
        const message = (err as Error).message.split('\n')[0] ?? '';
        missing.push(`${type}: ${message}`);
        plugins.push({ type, description: `${type} sink (plugin not loadable: ${message})`, spec: z.object({}).catchall(z.unknown()), loadError: message });
      }
    }
    if (missing.length && process.env.CDC_DEBUG_CONFIG) process.stderr.write(`sink plugins not loadable:\n  ${missing.join('\n  ')}\n`);
    return { source: sourceConnectorSpec, kafka: kafkaSpec, sinkCommon: sinkCommonSpec, plugins };
  })();
  return cached;
}
