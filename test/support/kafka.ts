/**
 * The Kafka client tests use to read and administer the shared test broker: kafkajs with the same
 * request-queue fix the daemon applies (src/kafka/kafkajs-request-queue.ts), so an idle test client
 * neither spins a 1 ms timer nor makes Node 24 print a TimeoutNegativeWarning into the test output.
 */
import type { Kafka, KafkaConfig } from 'kafkajs';
import { stackKafka } from '../../scripts/stack/kafka-client.js';

/** A kafkajs client on the stack's brokers (silent unless `logLevel` is given); extra settings override. */
export function testKafka(settings: Partial<KafkaConfig> = {}): Kafka {
  return stackKafka({ clientId: 'cdc-fanout-tests', ...settings });
}
