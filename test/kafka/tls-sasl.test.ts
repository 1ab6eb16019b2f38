/**
 * Kafka over TLS and SASL (issue 15.4), against a private broker (test/support/kafka-tls-broker.ts:
 * the stack's jars, own ports and temp dir) with a SASL_SSL listener (PLAIN, SCRAM-SHA-256/512) and
 * an SSL listener that requires a client certificate. Both clients cdc-fanout uses are exercised
 * with `kafka.tls` + `kafka.sasl`: the source's transactional producer (@platformatic/kafka) writes
 * a committed transaction that a kafkajs consumer (the sinks' client) reads back; wrong passwords,
 * a foreign CA and a missing client certificate are refused. Certificates: test/support/certs.ts.
 * Skipped when no Kafka jars, java or openssl are available.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec, type KafkaConfig } from '../../src/kafka/config.js';
import { TransactionalProducer } from '../../src/kafka/producer.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { kafkaLib, SASL_PASSWORD, SASL_USER, startTlsBroker, type TlsBroker } from '../support/kafka-tls-broker.js';

const lib = kafkaLib();
const canRun = hasOpenssl && lib !== null && spawnSync('java', ['-version']).status === 0;

let dir = '';
let pki: TestPki;
let broker: TlsBroker | undefined;

function saslConfig(mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', password = SASL_PASSWORD, tls: Record<string, unknown> = { ca: pki.caCert }): KafkaConfig {
  return kafkaSpec.parse({ 'bootstrap.servers': broker!.saslSsl, 'connection.timeout.ms': 5000, 'request.timeout.ms': 10000, tls, sasl: { mechanism, username: SASL_USER, password } });
}

function sslConfig(tls: Record<string, unknown>): KafkaConfig {
  return kafkaSpec.parse({ 'bootstrap.servers': broker!.ssl, 'connection.timeout.ms': 5000, 'request.timeout.ms': 10000, tls });
}

/** Connects an admin with the given config and lists topics (no retries: a refusal fails at once). */
async function listTopics(config: KafkaConfig): Promise<string[]> {
  const admin = kafkaClient(config, { retry: { retries: 0 } }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-kafka-tls-'));
  pki = makePki(join(dir, 'pki'));
  broker = await startTlsBroker(join(dir, 'broker'), pki, lib as string);
  // Started when an authenticated TLS admin gets through (first start formats and elects itself).
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await listTopics(saslConfig('scram-sha-512'));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`private Kafka broker did not come up: ${(err as Error).message}\n${readFileSync(broker.log, 'utf8').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}, 180_000);

afterAll(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!canRun)('Kafka with tls + sasl (private broker: SASL_SSL and SSL-with-client-certificate listeners)', () => {
  it('SASL_SSL + SCRAM-SHA-512: the source producer commits a transaction, a kafkajs consumer reads it back', async () => {
    const config = saslConfig('scram-sha-512');
    const topic = 'tls-sasl-roundtrip';
    const kafka = kafkaClient(config);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = new TransactionalProducer(config, { transactionalId: 'tls-sasl-producer', transactionTimeoutMs: 30_000 });
    try {
      await producer.connect();
      await producer.send([
        { topic, key: '{"id":1}', value: '{"op":"c","over":"sasl_ssl"}' },
        { topic, key: '{"id":2}', value: '{"op":"c","over":"sasl_ssl"}' },
      ]);
      await producer.commit();
    } finally {
      await producer.close();
    }

    const consumer = kafka.consumer({ groupId: 'tls-sasl-reader', readUncommitted: false, maxWaitTimeInMs: 200 });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} of 2 records`)), 60_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(`${message.key?.toString()} ${message.value?.toString()}`);
            if (seen.length === 2) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    expect(seen.sort()).toEqual(['{"id":1} {"op":"c","over":"sasl_ssl"}', '{"id":2} {"op":"c","over":"sasl_ssl"}']);
  });

  it('PLAIN and SCRAM-SHA-256 authenticate too', async () => {
    expect(await listTopics(saslConfig('plain'))).toContain('tls-sasl-roundtrip');
    expect(await listTopics(saslConfig('scram-sha-256'))).toContain('tls-sasl-roundtrip');
  });

  it('a wrong SASL password is refused with the broker\'s reason', async () => {
    await expect(listTopics(saslConfig('scram-sha-512', 'wrong-password'))).rejects.toThrow(/SASL SCRAM SHA512 authentication failed|Authentication failed/i);
    await expect(listTopics(saslConfig('plain', 'wrong-password'))).rejects.toThrow(/SASL PLAIN authentication failed|Authentication failed/i);
  });

  it('the source producer fails (instead of retrying forever) on a wrong SASL password or a foreign CA, naming the setting', async () => {
    const attempt = async (config: KafkaConfig): Promise<unknown> => {
      const producer = new TransactionalProducer(config, { transactionalId: 'tls-sasl-refused', transactionTimeoutMs: 30_000 });
      try {
        // The bound only turns a hang into a failure; the library alone would retry forever.
        return await Promise.race([producer.connect().then(() => 'connected', (e: unknown) => e), new Promise((r) => setTimeout(() => r('still retrying after 60 s'), 60_000))]);
      } finally {
        await producer.close().catch(() => undefined);
      }
    };
    expect(String(await attempt(saslConfig('scram-sha-256', 'wrong-password')))).toMatch(/the broker refused the SASL credentials .*check kafka\.sasl \(mechanism, username, password\)/);
    expect(String(await attempt(saslConfig('scram-sha-512', SASL_PASSWORD, { ca: pki.otherCaCert })))).toMatch(/the broker's TLS certificate does not verify .*check kafka\.tls \(ca, servername, mode\)/);
  });

  it('the sinks\' kafkajs clients fail on a wrong SASL password or a foreign CA, naming the setting', async () => {
    const attempt = async (config: KafkaConfig): Promise<unknown> => {
      // Default retry settings, as a sink's consumer has; the bound only turns a hang into a failure.
      const consumer = kafkaClient(config).consumer({ groupId: 'tls-sasl-refused' });
      try {
        return await Promise.race([consumer.connect().then(() => 'connected', (e: unknown) => e), new Promise((r) => setTimeout(() => r('still retrying after 60 s'), 60_000))]);
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
    };
    expect(String(await attempt(saslConfig('scram-sha-512', 'wrong-password')))).toMatch(/Kafka connection failed: the broker refused the SASL credentials .*check kafka\.sasl \(mechanism, username, password\)/);
    expect(String(await attempt(saslConfig('scram-sha-512', SASL_PASSWORD, { ca: pki.otherCaCert })))).toMatch(/Kafka connection failed: the broker's TLS certificate does not verify .*check kafka\.tls \(ca, servername, mode\)/);
  }, 150_000);

  it('verify-full refuses the broker when ca is a foreign CA', async () => {
    await expect(listTopics(saslConfig('scram-sha-512', SASL_PASSWORD, { ca: pki.otherCaCert }))).rejects.toThrow();
  });

  it('SSL listener: works with a client certificate, refused without one', async () => {
    expect(await listTopics(sslConfig({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKeyEncrypted, 'key.password': pki.clientKeyPassword }))).toContain('tls-sasl-roundtrip');
    await expect(listTopics(sslConfig({ ca: pki.caCert }))).rejects.toThrow();
  });
});
