/**
 * The one schema of a pipeline config file: `name`, `source` (Postgres connector + event options),
 * `kafka`, and `sinks[]` — a discriminated union on `type`, each member = the common sink fields
 * merged with that sink plugin's own fields. Types, defaults, validation and the generated config
 * reference (scripts/gen-config-reference.ts) all derive from it.
 */
import { z } from 'zod';
import type { SinkCommonConfig } from '../sinks/runtime/config.js';
import type { ConfigComponents, PluginSpec } from './components.js';
import { sinkTopicProblems, type SourceTopics } from './sink-topics.js';

export const PIPELINE_NAME = /^[A-Za-z0-9._-]+$/;

export function sinkSchemas(c: ConfigComponents): z.ZodObject[] {
  return c.plugins.map((p) => {
    const merged = z.object({
      ...c.sinkCommon.shape,
      ...p.spec.shape,
      type: z.literal(p.type).describe(`\`${p.type}\`: ${p.description}`),
    });
    // A catch-all plugin spec (plugin not loadable) keeps unknown keys; real specs are strict.
    return defOfCatchall(p) ? merged.catchall(z.unknown()) : merged.strict();
  });
}

function defOfCatchall(p: PluginSpec): boolean {
  return (p.spec._zod.def as { catchall?: z.ZodType }).catchall !== undefined && !(p.spec._zod.def.catchall instanceof z.ZodNever);
}

/**
 * Refinements of a plugin spec (e.g. the Redis key-template checks) are lost when its shape is
 * merged, so each sink's own fields are parsed again with the plugin spec and its issues kept.
 */
function pluginIssues(plugins: readonly PluginSpec[], sink: Record<string, unknown>): z.core.$ZodIssue[] {
  const p = plugins.find((x) => x.type === sink.type);
  if (!p) return [];
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(p.spec.shape)) if (k in sink) own[k] = sink[k];
  const r = p.spec.safeParse(own);
  if (r.success) return [];
  // Field-level checks survive the merge and are reported already: keep only the spec-level ones.
  const fieldLevel = new Set<string>();
  for (const [k, v] of Object.entries(own)) {
    const f = p.spec.shape[k]?.safeParse(v);
    if (f && !f.success) for (const i of f.error.issues) fieldLevel.add(JSON.stringify([k, ...i.path, i.message]));
  }
  return r.error.issues.filter((i) => i.code === 'custom' && !fieldLevel.has(JSON.stringify([...i.path, i.message])));
}

export function buildPipelineSchema(c: ConfigComponents) {
  const sinks = sinkSchemas(c);
  const sink = sinks.length === 1 ? (sinks[0] as z.ZodObject) : z.discriminatedUnion('type', sinks as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
  return z
    .object({
      name: z
        .string()
        .regex(PIPELINE_NAME, 'use letters, digits, ".", "_" or "-"')
        .describe('Pipeline name, unique across the daemon; used in the admin API, metrics labels and CLI commands. Also the default of `source.name`.'),
      source: c.source.describe('The Postgres source connector (Debezium property names) and the event format options.'),
      kafka: c.kafka.describe('Kafka cluster the source publishes to and the sinks consume from.'),
      sinks: z
        .array(sink)
        .default([])
        .describe('Sinks fed from the pipeline\'s topics; each is supervised independently.')
        .superRefine((list, ctx) => {
          const seen = new Map<string, number>();
          list.forEach((s, i) => {
            const sink = s as Record<string, unknown>;
            const broken = c.plugins.find((p) => p.type === sink.type)?.loadError;
            if (broken) ctx.addIssue({ code: 'custom', path: [i, 'type'], message: `the ${String(sink.type)} sink plugin failed to load (${broken}), so this sink's fields cannot be checked and it could not run; reinstall (npm ci) or remove the sink` });
            for (const issue of pluginIssues(c.plugins, sink)) ctx.addIssue({ code: 'custom', path: [i, ...issue.path], message: issue.message });
            // Neither "topics" nor "tables": the sink follows the source's table selection (docs/table-lifecycle.md).
            const name = sink.name;
            if (typeof name !== 'string') return;
            const first = seen.get(name);
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate sink name "${name}" (also used by sinks[${first}])` });
            else seen.set(name, i);
          });
        }),
    })
    .strict()
    .superRefine((p, ctx) => {
      // Every sink consumes topics this pipeline's source produces (else it would wait forever).
      const source = p.source as unknown as SourceTopics;
      p.sinks.forEach((s, i) => {
        for (const problem of sinkTopicProblems(s as Record<string, unknown>, source)) ctx.addIssue({ code: 'custom', path: ['sinks', i, ...problem.path], message: problem.message });
      });
    });
}

export type PipelineSchema = ReturnType<typeof buildPipelineSchema>;
/**
 * A sink entry as validated: the common sink fields typed, the plugin's own fields as written (the
 * plugin's spec parses them when the sink is built: daemon/sink-adapter.ts).
 */
export type SinkConfig = SinkCommonConfig & { readonly [field: string]: unknown };
/** A validated pipeline: `source` and `kafka` typed by their specs, each sink by {@link SinkConfig}. */
export type PipelineConfig = Omit<z.infer<PipelineSchema>, 'sinks'> & { sinks: SinkConfig[] };

/**
 * The parsed data as a PipelineConfig. The one type assertion of the config: every sink schema is
 * the common sink shape merged with its plugin's (sinkSchemas above), but the plugins are loaded at
 * run time, so zod's static type of the union is only an object of unknown fields.
 */
export function pipelineConfigOf(data: z.infer<PipelineSchema>): PipelineConfig {
  return data as PipelineConfig;
}
