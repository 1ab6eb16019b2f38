/**
 * The one schema of a pipeline config file: `name`, `source` (Postgres connector + event options),
 * `kafka`, and `sinks[]` — a discriminated union on `type`, each member = the common sink fields
 * merged with that sink plugin's own fields. Types, defaults, validation and the generated config
 * reference (scripts/gen-config-reference.ts) all derive from it.
 */
import { z } from 'zod';
import { defaultComponents, type ConfigComponents } from './components.js';

export const PIPELINE_NAME = /^[A-Za-z0-9._-]+$/;

export function sinkSchemas(c: ConfigComponents): z.ZodObject[] {
  return c.plugins.map((p) =>
    z
      .object({
        ...c.sinkCommon.shape,
        ...p.spec.shape,
        type: z.literal(p.type).describe(`\`${p.type}\`: ${p.description}`),
      })
      .strict(),
  );
}

export function buildPipelineSchema(c: ConfigComponents = defaultComponents()) {
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
            const name = (s as { name?: unknown }).name;
            if (typeof name !== 'string') return;
            const first = seen.get(name);
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate sink name "${name}" (also used by sinks[${first}])` });
            else seen.set(name, i);
          });
        }),
    })
    .strict();
}

export type PipelineSchema = ReturnType<typeof buildPipelineSchema>;
export type PipelineConfig = z.infer<PipelineSchema>;
export type SinkConfig = PipelineConfig['sinks'][number] & { name: string; type: string };
