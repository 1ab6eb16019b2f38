/**
 * The one kafkajs client factory for dev-side code (tests, benches, verify, the stack's health
 * check): the stack's brokers, silent logging, and the request-queue fix the daemon applies
 * (src/kafka/kafkajs-request-queue.ts) — unpatched, every idle connection wakes every ~1 ms and
 * Node 24 prints a TimeoutNegativeWarning into the output. Extra settings override the defaults.
 */
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { kafkajsRequestQueuePatched } from '../../src/kafka/kafkajs-request-queue.js';
import { endpoints } from './endpoints.js';

export function stackKafka(settings: Partial<KafkaConfig> & Pick<KafkaConfig, 'clientId'>): Kafka {
  kafkajsRequestQueuePatched();
  return new Kafka({ brokers: [...endpoints().kafkaBrokers], logLevel: logLevel.NOTHING, ...settings });
}
