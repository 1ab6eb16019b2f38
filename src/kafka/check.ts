/**
 * Online check of the Kafka cluster (`cdc-fanout validate --online`): every bootstrap broker
 * answers; the topics the pipeline uses that exist already have the partitions the config expects
 * (cdc-fanout leaves existing topics alone); the offsets topic is single-partition and compacted;
 * the brokers allow the source's transactional producer (transaction timeout, transaction log
 * replication); no other process consumes as one of the sinks. Read-only: metadata, configs and
 * group descriptions; it never initialises a transactional id (that would fence a running source).
 */
import { Socket } from 'node:net';
import { Admin as CoordinatorClient, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import type { Admin } from 'kafkajs';
import { type ComponentReport, type Finding, networkReason, seconds, withDeadline } from '../check/online.js';
import { kafkaClient } from './client.js';
import type { KafkaConfig } from './config.js';
import { brokerCode } from './errors.js';
import { producerOptions } from './producer.js';

export interface KafkaCheckInput {
  readonly config: KafkaConfig;
  readonly timeoutMs: number;
  /** Data topics the source writes (one per captured table) and the message/transaction topics. */
  readonly sourceTopics: readonly string[];
  /** The data topics with their table, whether it has a key, and its configured cleanup.policy. */
  readonly dataTopics?: readonly { readonly topic: string; readonly table: string; readonly keyed: boolean; readonly policy: string }[];
  /** Where topic.cleanup.policy is set. */
  readonly cleanupPolicyPath?: readonly (string | number)[];
  readonly offsetsTopic: string;
  /** Where the offsets topic is set: source.offsets.topic, or source.topic.prefix it derives from. */
  readonly offsetsTopicPath: readonly (string | number)[];
  readonly transactionTimeoutMs: number;
  /** The source's transactional id (`cdc-fanout-<source.name>`) and where it comes from in the config. */
  readonly transactionalId: string;
  readonly transactionalIdPath: readonly (string | number)[];
  /** Each sink's config path, topics and consumer group. */
  readonly sinks: readonly { readonly path: readonly (string | number)[]; readonly name: string; readonly topics: readonly string[]; readonly groupId: string }[];
}

const BROKER_RESOURCE = 4;
const TOPIC_RESOURCE = 2;
const P = (...p: (string | number)[]): readonly (string | number)[] => ['kafka', ...p];

/** TCP connect to host:port within `ms`; null when it answered, else the reason. */
export function probeTcp(hostPort: string, ms: number): Promise<string | null> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (why: string | null): void => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(ms, () => done(`no answer within ${seconds(ms)}`));
    socket.once('error', (e) => done(networkReason(e)));
    socket.connect(port, host, () => done(null));
  });
}

export async function checkKafka(input: KafkaCheckInput): Promise<ComponentReport> {
  const cfg = input.config;
  const ms = input.timeoutMs;
  const findings: Finding[] = [];
  const notes: string[] = [];
  const brokers = cfg['bootstrap.servers'].split(',').map((s) => s.trim()).filter(Boolean);
  const target = brokers.join(',');
  const report = (version: string | null): ComponentReport => ({ component: 'kafka', target, version, notes, findings });

  const probes = await Promise.all(brokers.map(async (b) => ({ b, why: await probeTcp(b, ms) })));
  const down = probes.filter((p) => p.why !== null);
  if (down.length === brokers.length) {
    findings.push({
      severity: 'error',
      path: P('bootstrap.servers'),
      message: `Kafka unreachable within ${seconds(ms)}: ${down.map((p) => `${p.b} (${p.why})`).join(', ')}`,
      fix: 'check kafka.bootstrap.servers, and that the brokers run and are reachable from here',
    });
    return report(null);
  }
  for (const p of down) findings.push({ severity: 'warning', path: P('bootstrap.servers'), message: `bootstrap broker ${p.b} does not answer (${p.why}); the others do`, fix: 'remove it from kafka.bootstrap.servers or bring it back' });

  const kafka = kafkaClient({ ...cfg, 'connection.timeout.ms': Math.min(cfg['connection.timeout.ms'], ms), 'request.timeout.ms': Math.min(cfg['request.timeout.ms'], ms) }, { retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await withDeadline('Kafka', ms, admin.connect(), () => admin.disconnect());
    const cluster = await withDeadline('Kafka', ms, admin.describeCluster());
    const version = `Kafka cluster ${cluster.clusterId} (${cluster.brokers.length} broker${cluster.brokers.length === 1 ? '' : 's'})`;
    await checkTransactions(admin, input, cluster.brokers.length, cluster.controller ?? cluster.brokers[0]?.nodeId ?? 0, findings);
    await checkTransactionalId(input, findings, notes);
    await checkTopics(admin, input, findings, notes);
    await checkGroups(admin, input, findings);
    return report(version);
  } catch (err) {
    findings.push({ severity: 'error', path: P('bootstrap.servers'), message: `Kafka at ${target} answered TCP but the client failed: ${networkReason(err)}`, fix: 'check kafka.ssl and kafka.sasl against the listener the brokers expose' });
    return report(null);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function brokerConfigs(admin: Admin, brokerId: number, names: readonly string[], ms: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const res = await withDeadline('Kafka', ms, admin.describeConfigs({ includeSynonyms: false, resources: [{ type: BROKER_RESOURCE, name: String(brokerId), configNames: [...names] }] }));
    for (const r of res.resources) for (const e of r.configEntries) out.set(e.configName, e.configValue);
  } catch {
    // No DescribeConfigs permission: the checks that need the values are skipped.
  }
  return out;
}

/** The source's transactional producer: its timeout within the broker's cap, a transaction log the cluster can host. */
async function checkTransactions(admin: Admin, input: KafkaCheckInput, brokerCount: number, brokerId: number, findings: Finding[]): Promise<void> {
  const c = await brokerConfigs(admin, brokerId, ['transaction.max.timeout.ms', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr'], input.timeoutMs);
  const max = Number(c.get('transaction.max.timeout.ms'));
  if (Number.isFinite(max) && max > 0 && input.transactionTimeoutMs > max) {
    findings.push({
      severity: 'error',
      path: ['source', 'kafka.transaction.timeout.ms'],
      message: `source.kafka.transaction.timeout.ms is ${input.transactionTimeoutMs} but the brokers cap transactions at transaction.max.timeout.ms=${max}: the source's transactional producer would be refused (INVALID_TRANSACTION_TIMEOUT)`,
      fix: `set source.kafka.transaction.timeout.ms to at most ${max}, or raise transaction.max.timeout.ms on the brokers`,
    });
  }
  const rf = Number(c.get('transaction.state.log.replication.factor'));
  if (Number.isFinite(rf) && rf > brokerCount) {
    findings.push({
      severity: 'error',
      message: `the brokers' transaction.state.log.replication.factor is ${rf} but the cluster has ${brokerCount} broker${brokerCount === 1 ? '' : 's'}: the transaction coordinator cannot start, so the source's transactional producer would wait forever`,
      fix: `set transaction.state.log.replication.factor (and transaction.state.log.min.isr) to at most ${brokerCount} on the brokers`,
    });
  }
  if (input.config['topic.creation.replication.factor'] > brokerCount) {
    findings.push({ severity: 'error', path: P('topic.creation.replication.factor'), message: `kafka.topic.creation.replication.factor is ${input.config['topic.creation.replication.factor']} but the cluster has ${brokerCount} broker${brokerCount === 1 ? '' : 's'}: creating topics would fail`, fix: `set it to at most ${brokerCount}` });
  }
}

/**
 * FindCoordinator for the transactional id (the producer's own client, so its TLS/SASL settings):
 * read-only, unlike InitProducerId. Fails when the id is not authorised or no transaction
 * coordinator is available.
 */
async function checkTransactionalId(input: KafkaCheckInput, findings: Finding[], notes: string[]): Promise<void> {
  const { clientId, bootstrapBrokers, tls, sasl, connectTimeout } = producerOptions(input.config, { transactionalId: input.transactionalId, transactionTimeoutMs: input.transactionTimeoutMs });
  const client = new CoordinatorClient({ clientId, bootstrapBrokers, ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}), connectTimeout: Math.min(connectTimeout ?? input.timeoutMs, input.timeoutMs), timeout: input.timeoutMs, retries: 0 });
  try {
    await withDeadline('Kafka', input.timeoutMs, client.findCoordinator({ keyType: FindCoordinatorKeyTypes.TRANSACTION, keys: [input.transactionalId] }), () => client.close());
    notes.push(`transaction coordinator found for ${input.transactionalId}`);
  } catch (err) {
    const code = brokerCode(err);
    if (code === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED') {
      findings.push({ severity: 'error', path: input.transactionalIdPath, message: `Kafka does not authorise the source's transactional id "${input.transactionalId}" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): its producer could not start`, fix: `allow Describe and Write on TransactionalId "${input.transactionalId}" (and IdempotentWrite on the cluster) for the source's user` });
    } else if (code === 'COORDINATOR_NOT_AVAILABLE') {
      findings.push({ severity: 'error', message: `Kafka has no transaction coordinator for "${input.transactionalId}" (COORDINATOR_NOT_AVAILABLE): the __transaction_state topic cannot be created or has no leader`, fix: 'check transaction.state.log.replication.factor and min.isr against the live brokers' });
    } else {
      findings.push({ severity: 'warning', path: input.transactionalIdPath, message: `could not check the transactional id "${input.transactionalId}" (${networkReason(err)})` });
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function checkTopics(admin: Admin, input: KafkaCheckInput, findings: Finding[], notes: string[]): Promise<void> {
  const ms = input.timeoutMs;
  const existing = new Set(await withDeadline('Kafka', ms, admin.listTopics()));
  const wanted = [...new Set([...input.sourceTopics, ...input.sinks.flatMap((s) => s.topics), input.offsetsTopic])].filter((t) => existing.has(t));
  const missing = input.sourceTopics.filter((t) => !existing.has(t)).length;
  notes.push(`${wanted.length} of the pipeline's topics exist${missing ? `, ${missing} will be created` : ''}`);
  if (wanted.length === 0) return;
  const meta = await withDeadline('Kafka', ms, admin.fetchTopicMetadata({ topics: wanted }));
  const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  const expected = input.config['topic.creation.partitions'];
  const fewer = wanted.filter((t) => t !== input.offsetsTopic && (partitions.get(t) ?? expected) < expected);
  if (fewer.length) {
    findings.push({
      severity: 'warning',
      path: P('topic.creation.partitions'),
      message: `existing topic${fewer.length === 1 ? '' : 's'} ${fewer.map((t) => `${t} (${partitions.get(t)} partition${partitions.get(t) === 1 ? '' : 's'})`).join(', ')} ha${fewer.length === 1 ? 's' : 've'} fewer partitions than kafka.topic.creation.partitions=${expected}: cdc-fanout leaves existing topics alone, so a sink scales to fewer consumers`,
      fix: 'add partitions before the first event (kafka-topics --alter --partitions N; later it moves keys to other partitions), or lower topic.creation.partitions',
    });
  }
  await checkCleanupPolicies(admin, input, existing, findings);
  if (existing.has(input.offsetsTopic)) {
    const n = partitions.get(input.offsetsTopic) ?? 1;
    if (n !== 1) findings.push({ severity: 'error', path: input.offsetsTopicPath, message: `offsets topic "${input.offsetsTopic}" has ${n} partitions; the source's position needs one total order (1 partition)`, fix: 'recreate it with 1 partition and cleanup.policy=compact, or point source.offsets.topic at a new name' });
    try {
      const res = await withDeadline('Kafka', ms, admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: input.offsetsTopic, configNames: ['cleanup.policy'] }] }));
      const policy = res.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
      if (policy !== undefined && !policy.includes('compact')) {
        findings.push({ severity: 'error', path: input.offsetsTopicPath, message: `offsets topic "${input.offsetsTopic}" has cleanup.policy=${policy}: retention would delete the source's committed position and slot ownership record`, fix: `kafka-configs --alter --entity-type topics --entity-name ${input.offsetsTopic} --add-config cleanup.policy=compact` });
      }
    } catch {
      // No DescribeConfigs permission: not checked.
    }
  }
}

/**
 * Existing data topics whose cleanup.policy differs from what cdc-fanout would create (it never
 * alters an existing topic): a `delete` topic where compaction is configured cannot rebuild sinks
 * beyond its retention (warning, with the command to change it); a compacted topic where records
 * with null keys will be written (keyless table; truncate events where `delete` is configured) makes
 * the broker reject them and the source stop (error).
 */
export async function checkCleanupPolicies(admin: Admin, input: KafkaCheckInput, existing: ReadonlySet<string>, findings: Finding[]): Promise<void> {
  const topics = (input.dataTopics ?? []).filter((t) => existing.has(t.topic));
  if (topics.length === 0) return;
  let actual: Map<string, string>;
  try {
    const res = await withDeadline('Kafka', input.timeoutMs, admin.describeConfigs({ includeSynonyms: false, resources: topics.map((t) => ({ type: TOPIC_RESOURCE, name: t.topic, configNames: ['cleanup.policy'] })) }));
    actual = new Map(res.resources.flatMap((r) => {
      const v = r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
      return v === undefined ? [] : [[r.resourceName, v] as const];
    }));
  } catch {
    return; // No DescribeConfigs permission: not checked.
  }
  const path = input.cleanupPolicyPath ?? ['source', 'topic.cleanup.policy'];
  const compacts = (p: string): boolean => p.split(',').map((s) => s.trim()).includes('compact');
  for (const t of topics) {
    const now = actual.get(t.topic);
    if (now === undefined) continue;
    if (!t.keyed && compacts(now)) {
      findings.push({ severity: 'error', path, message: `data topic "${t.topic}" is compacted (cleanup.policy=${now}) but table ${t.table} has no key: Kafka rejects its null-key events, so the source would stop`, fix: `give the table a primary key (or a message.key.columns entry), or: kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${t.topic} --add-config cleanup.policy=delete` });
    } else if (t.keyed && compacts(now) && !compacts(t.policy)) {
      findings.push({ severity: 'error', path, message: `data topic "${t.topic}" is compacted (cleanup.policy=${now}) but ${t.table}'s topic.cleanup.policy is "${t.policy}", so its TRUNCATE events get Debezium's null key, which Kafka rejects there`, fix: `set topic.cleanup.policy (or topic.cleanup.policy.tables["${t.table}"]) to "compact", or: kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${t.topic} --add-config cleanup.policy=${t.policy}` });
    } else if (t.keyed && compacts(t.policy) && !compacts(now)) {
      findings.push({
        severity: 'warning',
        path,
        message: `data topic "${t.topic}" has cleanup.policy=${now} (created before compaction was the default, or by hand): rows older than its retention are gone from the log, so \`cdc-fanout rebuild\` cannot recompute ${t.table} from it; cdc-fanout never alters an existing topic`,
        fix: `kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${t.topic} --add-config cleanup.policy=${t.policy} — then the log keeps the latest event of each row from now on (rows already expired stay lost: re-snapshot the table once). The log cleaner drops the old null-key TRUNCATE events already in it. Or set topic.cleanup.policy.tables["${t.table}"]: delete to keep it as it is`,
      });
    }
  }
}

/** A sink's consumer group with live members: another process (a running daemon?) consumes as this sink. */
async function checkGroups(admin: Admin, input: KafkaCheckInput, findings: Finding[]): Promise<void> {
  if (input.sinks.length === 0) return;
  try {
    const res = await withDeadline('Kafka', input.timeoutMs, admin.describeGroups(input.sinks.map((s) => s.groupId)));
    for (const g of res.groups) {
      if (g.members.length === 0) continue;
      const sink = input.sinks.find((s) => s.groupId === g.groupId);
      findings.push({
        severity: 'warning',
        path: sink ? [...sink.path, 'group.id'] : undefined,
        message: `consumer group "${g.groupId}" of sink ${sink?.name ?? '?'} has ${g.members.length} live member${g.members.length === 1 ? '' : 's'} (${[...new Set(g.members.map((m) => m.clientHost))].join(', ')}): a daemon is already running this sink, and a second one would split its partitions`,
      });
    }
  } catch {
    // Not authorised to describe groups: not checked.
  }
}
