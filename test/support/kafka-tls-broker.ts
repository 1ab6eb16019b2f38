/**
 * A private Kafka broker for TLS/SASL tests: the stack's Kafka jars (stack/lib/kafka, or the main
 * checkout's when running in a git worktree) in KRaft mode, own ports and a temp dir — the shared
 * broker is never touched. Listeners:
 *   - SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; no client certificate),
 *   - SSL with a required client certificate,
 *   - CONTROLLER (plaintext, KRaft only).
 * Users: PLAIN from the JAAS config, SCRAM written into the KRaft metadata at format time.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { freePort } from './ports.js';
import type { TestPki } from './certs.js';

export const SASL_USER = 'cdc';
export const SASL_PASSWORD = 'cdc-secret';

/** The directory of the stack's Kafka jars, or null when none is installed. */
export function kafkaLib(): string | null {
  const repo = resolve(import.meta.dirname, '..', '..');
  const candidates = [join(repo, 'stack', 'lib', 'kafka')];
  const common = spawnSync('git', ['-C', repo, 'rev-parse', '--path-format=absolute', '--git-common-dir'], { encoding: 'utf8' });
  if (common.status === 0) candidates.push(join(dirname(common.stdout.trim()), 'stack', 'lib', 'kafka'));
  return candidates.find((c) => existsSync(c) && readdirSync(c).some((f) => /^kafka_.*\.jar$/.test(f))) ?? null;
}

export interface TlsBroker {
  /** host:port of the SASL_SSL listener. */
  readonly saslSsl: string;
  /** host:port of the SSL listener (client certificate required). */
  readonly ssl: string;
  readonly log: string;
  stop(): Promise<void>;
}

export async function startTlsBroker(dir: string, pki: TestPki, lib: string): Promise<TlsBroker> {
  mkdirSync(dir, { recursive: true });
  const [saslPort, sslPort, controllerPort] = [await freePort(), await freePort(), await freePort()];
  const keystore = join(dir, 'server-keystore.pem');
  writeFileSync(keystore, readFileSync(pki.serverKey, 'utf8') + readFileSync(pki.serverCert, 'utf8'));
  const plainJaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_${SASL_USER}="${SASL_PASSWORD}";`;
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=SASL_SSL://127.0.0.1:${saslPort},SSL://127.0.0.1:${sslPort},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=SASL_SSL://127.0.0.1:${saslPort},SSL://127.0.0.1:${sslPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=SASL_SSL',
      'listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=${plainJaas}`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${keystore}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${pki.caCert}`,
      'listener.name.ssl.ssl.client.auth=required',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=3',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j2.properties'),
    ['status = warn', 'appender.out.type = Console', 'appender.out.name = out', 'appender.out.layout.type = PatternLayout', 'appender.out.layout.pattern = [%d] %p %m (%c)%n', 'rootLogger.level = WARN', 'rootLogger.appenderRef.out.ref = out', ''].join('\n'),
  );
  const java = (main: string, ...rest: string[]): string[] => ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', `${lib}/*`, main, ...rest];
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A');
  execFileSync(
    'java',
    java('kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--add-scram', `SCRAM-SHA-256=[name=${SASL_USER},password=${SASL_PASSWORD}]`, '--add-scram', `SCRAM-SHA-512=[name=${SASL_USER},password=${SASL_PASSWORD}]`),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = join(dir, 'kafka.log');
  const out = openSync(log, 'a');
  const child: ChildProcess = spawn('java', java('kafka.Kafka', props), { stdio: ['ignore', out, out], detached: false });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    saslSsl: `127.0.0.1:${saslPort}`,
    ssl: `127.0.0.1:${sslPort}`,
    log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
