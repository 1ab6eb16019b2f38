/**
 * The Elasticsearch sink: one index per table, one versioned bulk request per batch (split only by
 * bulk.max.bytes, or around a truncate), offsets in a checkpoint index. Exactly-once comes from
 * the versions: every op carries version = commit LSN with version_type=external_gte, so a replay
 * or an out-of-order duplicate is refused (409, counted as stale) and never rolls a document back;
 * retrying a whole batch after a transient error is therefore always safe.
 */
import { nodeTlsOptions } from '../../spec/tls.js';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { Logger } from '../../observability/logger.js';
import { groupIdOf, type SinkContext } from '../plugin.js';
import { comparePositions, type Position } from '../../events/change.js';
import { postgresCatalog, TruncateWatermarks, type SourceCatalog } from '../kit/index.js';
import { SinkError, type PartitionOffset, type RejectedRecord, type Sink, type SinkBatch, type SinkRecord, type TopicPartition, type WriteResult } from '../sink.js';
import { chunkBodies, classifyItem, explainMappingRejection, itemResults, type BulkResponseBody } from './bulk.js';
import { CheckpointStore } from './checkpoints.js';
import type { Doc, FieldRules } from './document.js';
import { toSinkError } from './errors.js';
import { IndexManager, readJsonObject, type IndexTemplate } from './indices.js';
import { renderIndexName, validateIndexName } from './naming.js';
import { SchemaTracker } from './schema.js';
import { collapse, opKey, planBatch, resolvePlaceholders, type DocOp, type PlanContext, type Step } from './plan.js';
import type { ElasticsearchConfig } from './spec.js';

const SCROLL_PAGE = 1000;

interface Outcome {
  staleSkipped: number;
  rejected: Map<SinkRecord, Error>;
}

/**
 * Mappings of an index the sink creates without a mappings file: dynamic, so new columns flow in, but
 * so that no value the source emits is rejected (the type table in src/events/README.md):
 * - `date_detection: false`: a text column whose first value looks like a date (timestamptz ISO text)
 *   would otherwise become a `date` field that rejects `infinity`, year 0 or any later non-date text;
 * - numbers are `long` / `double` with `ignore_malformed`: float `"NaN"`/`"Infinity"` strings (and
 *   any later value the field cannot parse) are left out of that field's index instead of rejecting
 *   the document. `_source` always keeps the exact event value.
 */
export const DEFAULT_MAPPINGS: Record<string, unknown> = {
  date_detection: false,
  numeric_detection: false,
  dynamic_templates: [
    { cdc_long: { match_mapping_type: 'long', mapping: { type: 'long', ignore_malformed: true } } },
    { cdc_double: { match_mapping_type: 'double', mapping: { type: 'double', ignore_malformed: true } } },
  ],
};

/** Client options from the sink config (URL, timeout, auth); shared with the online check (./check.ts). */
export function clientOptions(config: ElasticsearchConfig): ClientOptions {
  const options: ClientOptions = { node: config.url, requestTimeout: config['request.timeout.ms'], maxRetries: 0 };
  const auth = config.auth;
  if (auth?.['api.key'] !== undefined) options.auth = { apiKey: auth['api.key'] };
  else if (auth?.username !== undefined) options.auth = { username: auth.username, password: auth.password ?? '' };
  const tls = nodeTlsOptions(config.tls);
  if (tls) options.tls = tls;
  return options;
}

export class ElasticsearchSink implements Sink {
  private readonly client: Client;
  private readonly url: string;
  private readonly log: Logger;
  private readonly checkpoints: CheckpointStore;
  private readonly indices: IndexManager;
  private readonly planContext: PlanContext;
  /** Rendered index name per topic/schema/table (or why it is invalid), and the table behind each index. */
  private readonly indexNames = new Map<string, string | Error>();
  private readonly tableOfIndex = new Map<string, string>();
  /** Source catalog (`source.url`, else the pipeline's source) and what it drives: renames and ADD COLUMN defaults (./schema.ts). */
  private readonly catalog: SourceCatalog | undefined;
  private readonly schema: SchemaTracker | undefined;
  private readonly topicPrefix: string;

  constructor(
    private readonly config: ElasticsearchConfig,
    ctx: SinkContext,
  ) {
    this.url = config.url;
    this.log = ctx.logger.child({ sink: ctx.sinkName, type: 'elasticsearch' });
    this.client = new Client(clientOptions(config));

    // Files are read once, here, so a missing or malformed file fails at start with its path.
    const settingsFile = config['index.settings.file'];
    const settings = { 'index.gc_deletes': config['index.gc.deletes'], ...(settingsFile ? readJsonObject(settingsFile, 'index.settings.file', 'settings') : {}) };
    const mappingsFile = config['index.mappings.file'];
    const defaultMappings = mappingsFile ? readJsonObject(mappingsFile, 'index.mappings.file', 'mappings') : DEFAULT_MAPPINGS;
    const tableMappings = new Map(
      Object.entries(config['table.overrides']).flatMap(([table, o]) => (o['index.mappings.file'] ? [[table, readJsonObject(o['index.mappings.file'], `table.overrides["${table}"].index.mappings.file`, 'mappings')] as const] : [])),
    );
    const templateFor = (index: string): IndexTemplate => ({
      settings,
      mappings: tableMappings.get(this.tableOfIndex.get(index) ?? '') ?? defaultMappings,
    });

    this.indices = new IndexManager(this.client, this.url, templateFor);
    this.checkpoints = new CheckpointStore(this.client, config['checkpoint.index'], groupIdOf(ctx), this.url);
    this.planContext = {
      indexFor: (record) => this.indexFor(record, ctx.topicPrefix),
      idSeparator: config['document.id.separator'],
      fieldRules: (table): FieldRules => ({
        include: config['table.overrides'][table]?.['fields.include'],
        exclude: config['table.overrides'][table]?.['fields.exclude'],
        rename: config['table.overrides'][table]?.['fields.rename'],
      }),
      sourceField: config['source.field'],
      truncateMode: config['truncate.mode'],
    };
    this.topicPrefix = ctx.topicPrefix;
    // The pipeline's own source connection (with its TLS) unless source.url names another.
    const sourceUrl = config['source.url'] ?? ctx.sourceDatabaseUrl;
    if (sourceUrl !== undefined) {
      this.catalog = postgresCatalog(sourceUrl, config['source.url'] === undefined ? ctx.sourceDatabaseTls : undefined);
      this.schema = new SchemaTracker({
        client: this.client,
        url: this.url,
        catalog: this.catalog,
        log: this.log,
        fieldRules: (table) => this.planContext.fieldRules(table),
        ensureIndex: async (index) => {
          await this.indices.ensure(index);
          return this.indices.refusal(index) === undefined;
        },
      });
    }
  }

  private indexFor(record: SinkRecord, prefix: string): string | Error {
    const source = record.source;
    if (!source) return new Error('the record has no source block, so its table (and index) is unknown');
    const cacheKey = `${record.topic}\u0000${source.db ?? ''}\u0000${source.schema}\u0000${source.table}`;
    let name = this.indexNames.get(cacheKey);
    if (name === undefined) {
      const rendered = renderIndexName(this.config['index.name.template'], {
        prefix,
        db: source.db ?? '',
        schema: source.schema,
        table: source.table,
        topic: record.topic,
      });
      const problem = typeof rendered === 'string' ? validateIndexName(rendered) : rendered.error;
      name = problem !== null ? new Error(`cannot name the index of table ${source.schema}.${source.table}: ${problem} (change index.name.template)`) : (rendered as string);
      this.indexNames.set(cacheKey, name);
      if (typeof name === 'string') this.tableOfIndex.set(name, `${source.schema}.${source.table}`);
    }
    return name;
  }

  async open(): Promise<void> {
    try {
      await this.client.info();
    } catch (error) {
      throw toSinkError(error, 'connecting', this.url);
    }
    await this.checkpoints.ensureIndex();
  }

  loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    return this.checkpoints.load(partitions);
  }

  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.checkpoints.commit(offsets);
  }

  resetOffsets(to: readonly PartitionOffset[]): Promise<void> {
    return this.checkpoints.reset(to);
  }

  async close(): Promise<void> {
    await this.catalog?.close();
    await this.client.close();
  }

  async write(batch: SinkBatch): Promise<WriteResult> {
    const schema = this.schema;
    if (!schema) return this.writeRecords(batch, batch.records);
    const indexFor = (record: SinkRecord): string | Error => this.indexFor(record, this.topicPrefix);
    await schema.prepare(batch.records, indexFor);
    return schema.shared(async () => {
      // changes still in the old shape (a lagging partition) are written in the index's current one
      const original = new Map<SinkRecord, SinkRecord>();
      const records = batch.records.map((r) => {
        const index = r.source ? indexFor(r) : null;
        const adapted = typeof index === 'string' ? schema.adapt(r, index) : r;
        if (adapted !== r) original.set(adapted, r);
        return adapted;
      });
      const result = await this.writeRecords(batch, records);
      return { ...result, rejected: result.rejected.map((x) => ({ ...x, record: original.get(x.record) ?? x.record })) };
    });
  }

  private async writeRecords(batch: SinkBatch, records: readonly SinkRecord[]): Promise<WriteResult> {
    const plan = planBatch(records, this.planContext);
    const outcome: Outcome = { staleSkipped: 0, rejected: new Map() };
    for (const r of plan.rejected) outcome.rejected.set(r.record, r.error);

    const steps = await this.dropTruncated(await this.prepare(plan.steps, outcome), outcome);
    await resolvePlaceholders(steps, (keys) => this.fetchDocs(keys));
    for (const step of steps) {
      if (step.kind === 'truncate') await this.truncate(step.index, step.record.position);
      else await this.applyOps(step.ops, outcome);
    }
    const rejected: RejectedRecord[] = [...outcome.rejected].map(([record, error]) => ({ record, error }));
    if (rejected.length > 0) this.log.warn({ topic: batch.topic, partition: batch.partition, rejected: rejected.length }, 'records rejected by Elasticsearch');
    return { rejected, staleSkipped: outcome.staleSkipped };
  }

  /** Creates missing indices; ops for an index Elasticsearch refuses to create are rejected. */
  private async prepare(steps: readonly Step[], outcome: Outcome): Promise<Step[]> {
    const out: Step[] = [];
    for (const step of steps) {
      if (step.kind === 'truncate') {
        out.push(step);
        continue;
      }
      const ops: DocOp[] = [];
      for (const op of step.ops) {
        await this.indices.ensure(op.index);
        const refusal = this.indices.refusal(op.index);
        if (refusal !== undefined) outcome.rejected.set(op.record, new Error(refusal));
        else ops.push(op);
      }
      if (ops.length > 0) out.push({ kind: 'ops', ops });
    }
    return out;
  }

  /**
   * Drops changes older than the last truncate of their table (counted as stale). Partitions are
   * ordered only within themselves: a row's insert on a lagging partition can arrive after the
   * truncate (on another partition) that removed it, when no document is there to refuse it.
   * The marks are read per batch (realtime), so a truncate applied by another process counts too.
   */
  private async dropTruncated(steps: Step[], outcome: Outcome): Promise<Step[]> {
    if (this.config['truncate.mode'] !== 'delete') return steps;
    const indices = new Set<string>();
    for (const step of steps) if (step.kind === 'ops') for (const op of step.ops) indices.add(op.index);
    // the kit's watermarks (W1–W3), per index: raised by the truncates of this batch in order
    const marks = new TruncateWatermarks(comparePositions, await this.checkpoints.loadTruncateMarks([...indices]));
    const out: Step[] = [];
    for (const step of steps) {
      if (step.kind === 'truncate') {
        marks.raise(step.index, step.record.position);
        out.push(step);
        continue;
      }
      const ops = step.ops.filter((op) => {
        const keep = !marks.below(op.index, op.record.position);
        if (!keep) outcome.staleSkipped++;
        return keep;
      });
      if (ops.length > 0) out.push({ kind: 'ops', ops });
    }
    return out;
  }

  private async applyOps(ops: readonly DocOp[], outcome: Outcome): Promise<void> {
    if (!this.config['bulk.collapse']) {
      await this.sendBulk(ops, outcome);
      return;
    }
    const { kept, superseded } = collapse(ops);
    const rejectedOps = await this.sendBulk(kept, outcome);
    // A rejected last op must not take the earlier, valid changes of its document down with it:
    // send those (in order) so the document ends where it would have without collapsing.
    const fallback = rejectedOps.flatMap((op) => superseded.get(op) ?? []);
    if (fallback.length > 0) await this.sendBulk(fallback, outcome);
  }

  /** Sends ops as bulk request(s); returns the rejected ops. Throws SinkError on transient failure. */
  private async sendBulk(ops: readonly DocOp[], outcome: Outcome): Promise<DocOp[]> {
    const rejectedOps: DocOp[] = [];
    for (const chunk of chunkBodies(ops, this.config['bulk.max.bytes'])) {
      let body: BulkResponseBody;
      try {
        body = await this.client.transport.request<BulkResponseBody>({
          method: 'POST',
          path: '/_bulk',
          querystring: { refresh: this.config.refresh, filter_path: 'errors,items.*.status,items.*.error' },
          bulkBody: chunk.body,
        });
      } catch (error) {
        throw toSinkError(error, 'bulk request', this.url);
      }
      const results = itemResults(body, chunk.ops.length);
      let transient: string | undefined;
      chunk.ops.forEach((op, i) => {
        const result = classifyItem(op.kind, results[i]);
        if (result.kind === 'stale') outcome.staleSkipped++;
        else if (result.kind === 'retriable') transient ??= result.message;
        else if (result.kind === 'rejected') {
          rejectedOps.push(op);
          const source = op.record.source;
          const mapping = explainMappingRejection(results[i]!, op.index, source ? `${source.schema}.${source.table}` : null);
          outcome.rejected.set(op.record, new Error(`${op.kind} ${op.index}/${op.id}: ${mapping ?? result.message}`));
        }
      });
      if (transient !== undefined) {
        throw new SinkError(`Elasticsearch bulk item failed transiently: ${transient}; retrying the batch (writes are versioned)`, { retriable: true });
      }
    }
    return rejectedOps;
  }

  private async fetchDocs(keys: readonly { index: string; id: string }[]): Promise<Map<string, Doc | null>> {
    const out = new Map<string, Doc | null>();
    let response;
    try {
      response = await this.client.mget<Doc>({ docs: keys.map((k) => ({ _index: k.index, _id: k.id })), realtime: true });
    } catch (error) {
      throw toSinkError(error, 'reading stored documents (unchanged-TOAST fill)', this.url);
    }
    response.docs.forEach((doc, i) => {
      const key = keys[i];
      if (!key) return;
      if ('error' in doc && doc.error && doc.error.type !== 'index_not_found_exception') {
        throw new SinkError(`Elasticsearch mget of ${key.index}/${key.id} failed: ${doc.error.type}: ${doc.error.reason ?? ''}`, { retriable: true });
      }
      out.set(opKey(key.index, key.id), 'found' in doc && doc.found && doc._source ? doc._source : null);
    });
    return out;
  }

  /**
   * Truncate: first the truncate mark (so changes older than the truncate arriving later, e.g. on
   * a lagging partition, are dropped), then versioned deletes of every document — not
   * delete_by_query, which writes internal versions, so a replayed truncate would delete rows
   * re-inserted after it and then block their re-index. The deletes carry version commitLsn − 1:
   * documents written later keep their greater version (409, expected, not counted), and so do rows
   * inserted after the TRUNCATE in the same transaction (same commit LSN; the common "reload"
   * pattern), even when their partition was applied first. Known limit: a row inserted *before* the
   * TRUNCATE in the same transaction, whose partition was applied before the truncate, survives.
   */
  private async truncate(index: string, position: Position): Promise<void> {
    await this.checkpoints.storeTruncateMark(index, position);
    if (position.commitLsn === 0n) return;
    const version = position.commitLsn - 1n;
    const what = `truncating index ${index}`;
    const ignored: Outcome = { staleSkipped: 0, rejected: new Map() };
    let scrollId: string | undefined;
    try {
      await this.client.indices.refresh({ index, ignore_unavailable: true });
      let page = await this.client.search({ index, ignore_unavailable: true, scroll: '1m', size: SCROLL_PAGE, _source: false, sort: ['_doc'], query: { match_all: {} } });
      scrollId = page._scroll_id;
      let deleted = 0;
      while (page.hits.hits.length > 0) {
        const ops: DocOp[] = page.hits.hits.flatMap((hit) =>
          hit._id === undefined ? [] : [{ kind: 'delete' as const, index, id: hit._id, version, record: TRUNCATE_RECORD }],
        );
        await this.sendBulk(ops, ignored);
        deleted += ops.length;
        if (!scrollId) break;
        page = await this.client.scroll({ scroll_id: scrollId, scroll: '1m' });
        scrollId = page._scroll_id ?? scrollId;
      }
      this.log.info({ index, deleted: deleted - ignored.staleSkipped, kept: ignored.staleSkipped }, 'truncate applied');
    } catch (error) {
      throw toSinkError(error, what, this.url);
    } finally {
      if (scrollId) await this.client.clearScroll({ scroll_id: scrollId }).catch(() => undefined);
    }
    if (ignored.rejected.size > 0) {
      const [first] = ignored.rejected.values();
      throw new SinkError(`Elasticsearch ${what} failed: ${first?.message ?? 'delete rejected'}`, { retriable: false });
    }
  }
}

/** Placeholder record for the deletes a truncate issues (they are never returned as rejected). */
const TRUNCATE_RECORD: SinkRecord = {
  topic: '',
  partition: -1,
  offset: '-1',
  key: null,
  op: 'd',
  before: null,
  after: null,
  source: null,
  position: { commitLsn: 0n, seq: 0 },
  raw: { key: null, value: null },
};
