/**
 * The one place that says where the local services live. The stack scripts, the tests, the demo,
 * the benchmarks and the sample connector files all read these (env vars with defaults), so moving
 * a service to another port is one environment variable.
 */
export interface Endpoints {
  /** libpq URL of the Postgres database the tests and demo use. */
  readonly postgresUrl: string;
  /** Kafka bootstrap servers, comma separated host:port. */
  readonly kafkaBrokers: readonly string[];
  /** Elasticsearch HTTP URL. */
  readonly elasticsearchUrl: string;
  /** ClickHouse HTTP URL. */
  readonly clickhouseUrl: string;
  /** Redis URL (redis://host:port/db). */
  readonly redisUrl: string;
}

export const DEFAULT_PORTS = {
  postgres: 5432,
  kafka: 9092,
  kafkaController: 9093,
  elasticsearch: 9200,
  clickhouseHttp: 8123,
  clickhouseTcp: 9000,
  redis: 6379,
} as const;

export function endpoints(env: NodeJS.ProcessEnv = process.env): Endpoints {
  return {
    postgresUrl: env.CDC_PG_URL ?? `postgres://postgres@127.0.0.1:${DEFAULT_PORTS.postgres}/postgres`,
    kafkaBrokers: (env.CDC_KAFKA_BROKERS ?? `127.0.0.1:${DEFAULT_PORTS.kafka}`).split(',').map((s) => s.trim()).filter(Boolean),
    elasticsearchUrl: env.CDC_ES_URL ?? `http://127.0.0.1:${DEFAULT_PORTS.elasticsearch}`,
    clickhouseUrl: env.CDC_CLICKHOUSE_URL ?? `http://127.0.0.1:${DEFAULT_PORTS.clickhouseHttp}`,
    redisUrl: env.CDC_REDIS_URL ?? `redis://127.0.0.1:${DEFAULT_PORTS.redis}/0`,
  };
}
