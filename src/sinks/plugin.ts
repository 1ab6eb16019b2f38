/**
 * Sink plugin contract (Benthos/powersync style): a sink type declares its config spec (a zod object
 * whose every field has a description) and a factory. The registry (src/sinks/registry.ts) maps the
 * config `type` to a plugin; the config schema, validation errors and README reference all derive
 * from the specs.
 */
import type { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { Sink } from './sink.js';

export interface SinkContext {
  /** Pipeline (connector) name from the config file. */
  readonly pipeline: string;
  /** This sink's name, unique within the pipeline. */
  readonly sinkName: string;
  /** Debezium `topic.prefix` of the pipeline's source. */
  readonly topicPrefix: string;
  readonly logger: Logger;
}

export interface SinkPlugin<Spec extends z.ZodObject = z.ZodObject> {
  /** The `type` value in config files, e.g. `elasticsearch`. */
  readonly type: string;
  /** One line for docs. */
  readonly description: string;
  /** Fields specific to this sink type (common fields live in src/sinks/runtime/config.ts). */
  readonly spec: Spec;
  create(config: z.infer<Spec>, ctx: SinkContext): Sink;
}
