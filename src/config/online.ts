/**
 * `cdc-fanout validate --online`: runs every component's online check for each loaded pipeline and
 * gathers ALL problems (never stops at the first). Order: the Postgres source first (it reads the
 * catalog the sinks' column checks need), then Kafka and every sink in parallel. Each component
 * declares its own check (src/source/check.ts, src/kafka/check.ts, `check` of each sink plugin in
 * src/sinks/<type>/); this file only wires them and adds what is common to every sink: each table a
 * sink consumes exists in the source database and is a table.
 */
import type { z } from 'zod';
import { type CheckPath, type ComponentReport, type Finding, type SourceCatalogView, CheckTimeoutError, DEFAULT_CHECK_TIMEOUT_MS, networkReason, seconds, withDeadline } from '../check/online.js';
import { compileTopicNamer, prefixedTopic } from '../events/topics.js';
import { checkKafka } from '../kafka/check.js';
import type { KafkaConfig } from '../kafka/config.js';
import { sinkGroupId } from '../sinks/group-id.js';
import { loadSinkPlugin } from '../sinks/registry.js';
import { checkSource } from '../source/check.js';
import { offsetsTopic, sourceSpec, transactionalId } from '../source/config.js';
import { sourceDatabaseUrl } from '../source/source-url.js';
import { specFields } from '../spec/spec-fields.js';
import { didYouMean } from './issues.js';
import type { LoadedPipeline } from './load.js';
import { sinkTableRefs, sinkTopics, type SourceTopics } from './sink-topics.js';

export interface OnlineOptions {
  /** Bound of each connection and request, ms. */
  readonly timeoutMs?: number;
}

export interface PipelineOnlineReport {
  readonly file: string;
  readonly pipeline: string;
  readonly components: readonly ComponentReport[];
}

/** A check that threw instead of reporting (a bug or an unexpected client error) still yields a report. */
async function guarded(component: string, target: string, ms: number, run: () => Promise<ComponentReport>): Promise<ComponentReport> {
  try {
    // Each step inside is bounded by `ms`; this bounds the whole component (several sequential steps).
    return await withDeadline(component, ms * 8, run());
  } catch (err) {
    const why = err instanceof CheckTimeoutError ? `did not finish within ${seconds(ms * 8)}` : `failed: ${networkReason(err)}`;
    return { component, target, version: null, notes: [], findings: [{ severity: 'error', message: `${component} check ${why}` }] };
  }
}

/** Each table a sink consumes exists in the source database and is a table (else it never gets an event). */
function sinkTableFindings(refs: readonly { table: string; path: readonly (string | number)[] }[], base: CheckPath, catalog: SourceCatalogView | null, dbname: string): Finding[] {
  if (!catalog) return [];
  const findings: Finding[] = [];
  const tables = [...catalog.relations.values()].filter((r) => r.kind === 'table' || r.kind === 'partitioned table').map((r) => r.name);
  for (const { table, path } of refs) {
    const rel = catalog.relations.get(table);
    if (!rel) {
      const hint = didYouMean(table, tables);
      findings.push({ severity: 'error', path: [...base, ...path], message: `table ${table} does not exist in database "${dbname}"${hint ? `; did you mean "${hint}"?` : ''}: the sink would never receive an event for it`, fix: 'create the table, or correct the name' });
    } else if (rel.kind !== 'table' && rel.kind !== 'partitioned table') {
      findings.push({ severity: 'error', path: [...base, ...path], message: `${table} is a ${rel.kind}, not a table: logical replication captures tables only, so the sink would never receive an event for it`, fix: 'consume the table(s) it reads from instead' });
    } else if (rel.partitionOf) {
      findings.push({ severity: 'error', path: [...base, ...path], message: `${table} is a partition of ${rel.partitionOf}; its changes are captured as the partitioned table's`, fix: `name ${rel.partitionOf} instead` });
    }
  }
  return findings;
}

export async function checkPipelineOnline(p: LoadedPipeline, options: OnlineOptions = {}): Promise<PipelineOnlineReport> {
  const ms = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const rawSource = p.config.source;
  const source = sourceSpec.parse(specFields(rawSource, sourceSpec));
  const kafka: KafkaConfig = p.config.kafka;
  const pgTarget = `${source['database.hosts'] ?? `${source['database.hostname']}:${source['database.port']}`}/${source['database.dbname']}`;

  let catalog: SourceCatalogView | null = null;
  const pgReport = await guarded('postgres', pgTarget, ms, async () => {
    const r = await checkSource({ config: source, kafka, timeoutMs: ms });
    catalog = r.catalog;
    return r.report;
  });
  const cat = catalog as SourceCatalogView | null;

  const prefix = source['topic.prefix'];
  const topicOf = compileTopicNamer(source['topic.routing.template'], prefix);
  const capturedTables = cat ? [...cat.relations.values()].filter((r) => r.captured) : [];
  const sourceTopics = [
    ...capturedTables.map((t) => topicOf(t.schema, t.table)),
    prefixedTopic(source['message.topic'], prefix, 'message.topic'),
    ...(source['provide.transaction.metadata'] ? [prefixedTopic(source['transaction.topic'], prefix, 'transaction.topic')] : []),
  ];
  // The cleanup.policy each data topic is created with (the record builder's rule: keyless → delete).
  const dataTopics = capturedTables.map((t) => ({
    topic: topicOf(t.schema, t.table),
    table: t.name,
    keyed: t.eventKey.length > 0,
    policy: source['topic.cleanup.policy.tables'][t.name] ?? source['topic.cleanup.policy'],
  }));
  const topicsView = source as unknown as SourceTopics;

  const sinks = p.config.sinks.map((sink, i) => {
    const groupId = sinkGroupId(p.config.name, sink);
    return { sink, index: i, path: ['sinks', i] as CheckPath, groupId, topics: sinkTopics(sink, prefix, source['topic.routing.template']), refs: sinkTableRefs(sink, topicsView) };
  });

  const kafkaTask = guarded('kafka', kafka['bootstrap.servers'], ms, () =>
    checkKafka({
      config: kafka,
      timeoutMs: ms,
      sourceTopics,
      dataTopics,
      cleanupPolicyPath: ['source', 'topic.cleanup.policy'],
      offsetsTopic: offsetsTopic(source),
      offsetsTopicPath: source['offsets.topic'] ? ['source', 'offsets.topic'] : ['source', 'topic.prefix'],
      transactionTimeoutMs: source['kafka.transaction.timeout.ms'],
      transactionalId: transactionalId(source),
      // source.name defaults to the pipeline name
      transactionalIdPath: rawSource.name !== p.config.name ? ['source', 'name'] : ['name'],
      sinks: sinks.map((s) => ({ path: s.path, name: s.sink.name, topics: s.topics, groupId: s.groupId })),
    }),
  );
  const sinkTasks = sinks.map(async (s): Promise<ComponentReport> => {
    const component = `sink ${s.sink.name} (${s.sink.type})`;
    const common = sinkTableFindings(s.refs, s.path, cat, source['database.dbname']);
    let plugin: Awaited<ReturnType<typeof loadSinkPlugin>>;
    let config: z.infer<typeof plugin.spec>;
    try {
      plugin = await loadSinkPlugin(s.sink.type);
      config = plugin.spec.parse(specFields(s.sink, plugin.spec));
    } catch (err) {
      return { component, target: '', version: null, notes: [], findings: [...common, { severity: 'error', path: [...s.path, 'type'], message: `the ${s.sink.type} sink plugin could not be loaded or its config read: ${networkReason(err)}` }] };
    }
    if (!plugin.check) return { component, target: '', version: null, notes: ['this sink type has no online check'], findings: common };
    const check = plugin.check.bind(plugin);
    const report = await guarded(component, '', ms, () =>
      check(config, {
        pipeline: p.config.name,
        sinkName: s.sink.name,
        topicPrefix: prefix,
        groupId: s.groupId,
        path: s.path,
        tables: s.refs.map((r) => r.table),
        topicOf: (table: string) => {
          const dot = table.indexOf('.');
          return topicOf(table.slice(0, dot), table.slice(dot + 1));
        },
        database: source['database.dbname'],
        catalog: cat,
        sourceDatabaseUrl: sourceDatabaseUrl(source),
        timeoutMs: ms,
      }),
    );
    return { ...report, notes: cat ? report.notes : [...report.notes, 'tables and columns not checked (the source database could not be read)'], findings: [...common, ...report.findings] };
  });
  const [kafkaReport, ...sinkReports] = await Promise.all([kafkaTask, ...sinkTasks]);
  return { file: p.file, pipeline: p.config.name, components: [pgReport, kafkaReport as ComponentReport, ...sinkReports] };
}

