/**
 * Sink plugin contract (Benthos/powersync style): a sink type declares its config spec (a zod object
 * whose every field has a description) and a factory. The registry (src/sinks/registry.ts) maps the
 * config `type` to a plugin; the config schema, validation errors and README reference all derive
 * from the specs.
 */
import type { TlsSettings } from '../spec/tls.js';
import type { z } from 'zod';
import type { CheckPath, ComponentReport, SourceCatalogView } from '../check/online.js';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import type { GenerationStore } from './generations.js';
import type { Sink } from './sink.js';
import { defaultGroupId } from './group-id.js';

export interface SinkContext {
  /** Pipeline (connector) name from the config file. */
  readonly pipeline: string;
  /** This sink's name, unique within the pipeline. */
  readonly sinkName: string;
  /** Debezium `topic.prefix` of the pipeline's source. */
  readonly topicPrefix: string;
  /**
   * Consumer group id of this sink (common `group.id`, default `cdc-fanout.<pipeline>.<sink>`); sinks
   * name their offsets storage after it. Optional for compatibility: use `groupIdOf(ctx)`.
   */
  readonly groupId?: string;
  readonly logger: Logger;
  /**
   * libpq URL of the pipeline's source database (secrets included: never log it). Sinks that
   * derive target schemas from the source catalog (ClickHouse) use it when not configured otherwise.
   */
  readonly sourceDatabaseUrl?: string;
  /** The source's `database.tls` group, for connections made with `sourceDatabaseUrl`. */
  readonly sourceDatabaseTls?: TlsSettings;
  /**
   * The pipeline's Kafka settings, for sinks that keep their offsets in Kafka through the runtime's
   * default store (src/sinks/runtime/kafka-group-offsets.ts) because their target has no
   * transactional place of its own (webhook).
   */
  readonly kafka?: KafkaConfig;
}

export interface SinkPlugin<Spec extends z.ZodObject = z.ZodObject> {
  /** The `type` value in config files, e.g. `elasticsearch`. */
  readonly type: string;
  /** One line for docs. */
  readonly description: string;
  /** Fields specific to this sink type (common fields live in src/sinks/runtime/config.ts). */
  readonly spec: Spec;
  create(config: z.infer<Spec>, ctx: SinkContext): Sink;
  /**
   * Online check (`cdc-fanout validate --online`): connect read-only to the sink's server, report its
   * version and every problem (unreachable, refused credentials, settings naming columns or tables
   * the source does not have). Optional: a sink without one is reported as "not checked".
   */
  check?(config: z.infer<Spec>, ctx: SinkCheckContext): Promise<ComponentReport>;
  /**
   * Generations of the sink's target for `cdc-fanout rebuild` (src/sinks/generations.ts). Optional:
   * a sink without it cannot be rebuilt into a new generation.
   */
  generations?(config: z.infer<Spec>, ctx: SinkContext): GenerationStore;
}

/** What a sink's online check gets besides its own config. */
export interface SinkCheckContext {
  readonly pipeline: string;
  readonly sinkName: string;
  readonly topicPrefix: string;
  readonly groupId: string;
  /** The sink's place in the config file, e.g. ['sinks', 2]: findings' paths start with it. */
  readonly path: CheckPath;
  /** The tables ("schema.table") the sink consumes, from its `tables` or `topics`. */
  readonly tables: readonly string[];
  /** The topic a consumed table's events arrive on. */
  topicOf(table: string): string;
  /** Name of the source database (Debezium `source.db`). */
  readonly database: string;
  /** The source database's relations with their columns and keys; null when Postgres could not be read (skip column checks). */
  readonly catalog: SourceCatalogView | null;
  /** libpq URL of the source database (secrets included: never print it). */
  readonly sourceDatabaseUrl?: string;
  /** Bound of every connection and request, ms. */
  readonly timeoutMs: number;
}

/** The sink's consumer group id: `ctx.groupId`, else the default `cdc-fanout.<pipeline>.<sink>`. */
export function groupIdOf(ctx: Pick<SinkContext, 'pipeline' | 'sinkName' | 'groupId'>): string {
  return ctx.groupId ?? defaultGroupId(ctx.pipeline, ctx.sinkName);
}
