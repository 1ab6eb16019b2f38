/**
 * The Kafka client tests use to read and administer the shared test broker: kafkajs with the same
 * request-queue fix the daemon applies (src/kafka/kafkajs-request-queue.ts), so an idle test client
 * neither spins a 1 ms timer nor makes Node 24 print a TimeoutNegativeWarning into the test output.
 */
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { kafkajsRequestQueuePatched } from '../../src/kafka/kafkajs-request-queue.js';
import { endpoints } from '../../scripts/stack/endpoints.js';

/** A kafkajs client on the stack's brokers (silent unless `logLevel` is given); extra settings override. */
export function testKafka(settings: Partial<KafkaConfig> = {}): Kafka {
  kafkajsRequestQueuePatched();
  return new Kafka({ clientId: 'cdc-fanout-tests', brokers: [...endpoints().kafkaBrokers], logLevel: logLevel.NOTHING, ...settings });
}
