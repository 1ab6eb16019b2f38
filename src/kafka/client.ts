/**
 * The one place a kafkajs client is built from the shared kafka spec: sink consumers, DLQ producer,
 * admin, offsets reader, CLI. (The source's transactional producer runs on another client, see
 * src/kafka/producer.ts.) kafkajs logs go to pino (warn and up) when a logger is given.
 */
import { Kafka, logLevel, type KafkaConfig as KafkaJsConfig, type LogEntry, type RetryOptions } from 'kafkajs';
import type { Logger } from '../observability/logger.js';
import { nodeTlsOptions } from '../spec/tls.js';
import type { KafkaConfig } from './config.js';
import { connectionSettingsProblem } from './errors.js';
import { kafkajsRequestQueuePatched } from './kafkajs-request-queue.js';

/**
 * A Kafka client handle as built here; code outside src/kafka names it by this type (eslint keeps
 * `kafkajs` imports inside src/kafka).
 */
export type KafkaClient = Kafka;

export interface KafkaClientOptions {
  /** Appended to `client.id` (e.g. the sink name) so broker logs tell the clients apart. */
  readonly clientIdSuffix?: string;
  /** Where kafkajs' own warnings and errors go; silent without one. */
  readonly logger?: Logger;
  /** kafkajs retry settings (default: kafkajs' own). */
  readonly retry?: RetryOptions;
}

export function kafkaClient(config: KafkaConfig, options: KafkaClientOptions = {}): Kafka {
  // Stops kafkajs' 1 ms idle timer loop per connection (and Node 24's warning about it); once per process.
  kafkajsRequestQueuePatched();
  const log = options.logger?.child({ component: 'kafkajs' });
  const settings: KafkaJsConfig = {
    clientId: options.clientIdSuffix ? `${config['client.id']}-${options.clientIdSuffix}` : config['client.id'],
    brokers: config['bootstrap.servers'].split(',').map((s) => s.trim()).filter(Boolean),
    requestTimeout: config['request.timeout.ms'],
    connectionTimeout: config['connection.timeout.ms'],
    ssl: nodeTlsOptions(config.tls) ?? false,
    ...(options.retry ? { retry: options.retry } : {}),
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
  };
  if (log) {
    settings.logCreator =
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else log.warn(rest, message);
      };
  }
  if (config.sasl) settings.sasl = { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as KafkaJsConfig['sasl'];
  const kafka = new Kafka(settings);
  // A refused SASL login or a broker certificate that does not verify: the error says which setting
  // to fix (as the source's producer does), for every client a sink, the CLI or the daemon builds.
  const admin = kafka.admin.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  const producer = kafka.producer.bind(kafka);
  kafka.admin = (c) => withSettingsRemedy(admin(c));
  kafka.consumer = (c) => withSettingsRemedy(consumer(c));
  kafka.producer = (c) => withSettingsRemedy(producer(c));
  return kafka;
}

/** `connect()` of a kafkajs client rejects with the setting to fix when the broker refused our TLS/SASL settings. */
function withSettingsRemedy<T extends { connect(): Promise<void> }>(client: T): T {
  const connect = client.connect.bind(client);
  client.connect = async () => {
    try {
      await connect();
    } catch (err) {
      const problem = connectionSettingsProblem(err);
      if (problem) throw new Error(`Kafka connection failed: ${problem}`, { cause: err });
      throw err;
    }
  };
  return client;
}
