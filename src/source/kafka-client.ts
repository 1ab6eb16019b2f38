/** Builds the kafkajs client from the shared kafka spec; kafkajs logs go to pino (warn and up). */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';

export function createKafka(cfg: KafkaConfig, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: cfg['client.id'],
    brokers: cfg['bootstrap.servers'].split(',').map((s) => s.trim()).filter(Boolean),
    requestTimeout: cfg['request.timeout.ms'],
    connectionTimeout: cfg['connection.timeout.ms'],
    ssl: cfg.ssl,
    sasl: cfg.sasl ? ({ mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password } as never) : undefined,
    // Fast first retries: right after a commit the coordinator answers CONCURRENT_TRANSACTIONS
    // until the markers are written; kafkajs' default 300 ms backoff would cap us at ~25 tx/s.
    retry: { initialRetryTime: 5, maxRetryTime: 2000, retries: 12 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else log.warn(rest, message);
      },
  });
}
