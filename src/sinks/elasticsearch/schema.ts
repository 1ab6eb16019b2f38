/**
 * Source schema changes in the Elasticsearch sink (docs/schema-evolution.md): `RENAME COLUMN a TO b`
 * and `ADD COLUMN c … DEFAULT <constant>`. Postgres sends no DDL; the sink sees a column it does not
 * know in a change and asks the source catalog (src/sinks/kit/catalog.ts, `source.url`):
 *   - the column has the attnum of a column the index knows and the source no longer has → a rename;
 *   - the column has a missing value (attmissingval: rows from before the ALTER read it) → a default.
 * What the index knows is kept in its mapping's `_meta.cdc_fanout` (column → attnum, renames,
 * defaults, a backfill still to do), so it survives restarts and is shared by every process.
 *
 * Documents not changed since are rewritten by a backfill: every document of the index is read
 * (scroll, with its version) and, if it lacks the default or still has the old name, re-indexed
 * whole with **its own version** and `version_type: external_gte`. The versions the exactly-once
 * check relies on (commit LSNs) are therefore kept exactly — an `_update_by_query` would bump them
 * (internal versioning) — and a document changed meanwhile (a greater version) refuses the rewrite
 * (409), which is right: that change is newer than the ALTER and carries the new shape.
 *
 * Changes still in the old shape (older changes on a lagging partition, applied after the ALTER) are
 * adapted before they are planned: their old column name becomes the new one, a missing defaulted
 * column gets the default. Only changes committed before the first change seen in the new shape are
 * adapted (`before`, a commit LSN): the ALTER holds an ACCESS EXCLUSIVE lock, so every change
 * committed after it is in the new shape, and a change lacking the column after that point means the
 * column was dropped since (it then stays absent, as before).
 *
 * Invariant: the backfill runs with no write of this sink in flight (an exclusive gate), after the
 * new shape is stored, so every document is either rewritten by it or written already adapted.
 */
import type { Client } from '@elastic/elasticsearch';
import type { JsonValue, Row } from '../../events/change.js';
import type { Logger } from '../../observability/logger.js';
import { missingValueJson, type SourceCatalog } from '../kit/index.js';
import { SinkError, type SinkRecord } from '../sink.js';
import type { FieldRules } from './document.js';
import { toSinkError } from './errors.js';

const META_KEY = 'cdc_fanout';
const PAGE = 1000;

export type ShapeChange = { readonly kind: 'rename'; readonly from: string; readonly to: string } | { readonly kind: 'default'; readonly column: string; readonly value: JsonValue };

export interface TableShape {
  /** Source column → attnum, for every column the index has seen (0: not in the catalog then). */
  columns: Record<string, number>;
  /** Old column name → the new one; applied to changes committed before `before` (a commit LSN). */
  renamed: Record<string, { to: string; before: string }>;
  /** Column → the value rows from before its ADD COLUMN … DEFAULT read; for changes before `before` that lack it. */
  defaults: Record<string, { value: JsonValue; before: string }>;
  /** Changes whose backfill of the stored documents is not finished (re-run on the next write). */
  pending: ShapeChange[];
}

/** Writes share the gate; a shape change (and its backfill) has it alone, after the writes in flight. */
class Gate {
  private active = 0;
  private exclusiveRun: Promise<void> | null = null;
  private idle: (() => void) | null = null;

  async shared<R>(fn: () => Promise<R>): Promise<R> {
    while (this.exclusiveRun) await this.exclusiveRun;
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.active === 0) this.idle?.();
    }
  }

  async exclusive(fn: () => Promise<void>): Promise<void> {
    while (this.exclusiveRun) await this.exclusiveRun.catch(() => undefined);
    let release = (): void => undefined;
    this.exclusiveRun = new Promise<void>((r) => (release = r));
    try {
      while (this.active > 0) await new Promise<void>((r) => (this.idle = r));
      this.idle = null;
      await fn();
    } finally {
      this.exclusiveRun = null;
      release();
    }
  }
}

export interface SchemaContext {
  readonly client: Client;
  readonly url: string;
  readonly catalog: SourceCatalog;
  readonly log: Logger;
  fieldRules(table: string): FieldRules;
  /** Creates the index if needed; false when it cannot exist (a name Elasticsearch refuses). */
  ensureIndex(index: string): Promise<boolean>;
}

function parseShape(meta: unknown): TableShape | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const m = meta as Partial<TableShape>;
  if (typeof m.columns !== 'object' || m.columns === null) return undefined;
  return { columns: { ...m.columns }, renamed: { ...(m.renamed ?? {}) }, defaults: { ...(m.defaults ?? {}) }, pending: [...(m.pending ?? [])] };
}

/** `row` in the shape the index has now (see the module comment); the same object when nothing applies. */
export function adaptRow(row: Row, shape: TableShape, commitLsn: bigint, withDefaults: boolean): Row {
  let out: Row | undefined;
  for (const [from, r] of Object.entries(shape.renamed)) {
    if (!(from in row) || commitLsn >= BigInt(r.before)) continue;
    out ??= { ...row };
    if (!(r.to in out)) out[r.to] = out[from]!;
    delete out[from];
  }
  if (withDefaults) {
    for (const [column, d] of Object.entries(shape.defaults)) {
      if ((out ?? row)[column] !== undefined || commitLsn >= BigInt(d.before)) continue;
      out ??= { ...row };
      out[column] = d.value;
    }
  }
  return out ?? row;
}

/** A stored document with `changes` applied (document field names per the table's rules); null when it needs none. */
export function backfillDoc(doc: Record<string, JsonValue>, changes: readonly ShapeChange[], rules: FieldRules): Record<string, JsonValue> | null {
  const field = (column: string): string | undefined => {
    if (rules.include && !rules.include.includes(column)) return undefined;
    if (rules.exclude?.includes(column)) return undefined;
    return rules.rename?.[column] ?? column;
  };
  let out: Record<string, JsonValue> | null = null;
  for (const c of changes) {
    if (c.kind === 'default') {
      const f = field(c.column);
      if (f === undefined || f in (out ?? doc)) continue;
      out ??= { ...doc };
      out[f] = c.value;
    } else {
      const from = field(c.from);
      const to = field(c.to);
      if (from === undefined || !(from in (out ?? doc)) || from === to) continue;
      out ??= { ...doc };
      if (to !== undefined && !(to in out)) out[to] = out[from]!;
      delete out[from];
    }
  }
  return out;
}

export class SchemaTracker {
  private readonly gate = new Gate();
  /** Per index: its shape, or null when it is not tracked (no index possible). */
  private readonly shapes = new Map<string, TableShape | null>();

  constructor(private readonly ctx: SchemaContext) {}

  shared<R>(fn: () => Promise<R>): Promise<R> {
    return this.gate.shared(fn);
  }

  /**
   * Before a batch is written: loads the shapes of its indices, and for columns no index knows yet
   * reads the catalog and applies a rename or a default (with the backfill). Outside the shared gate.
   */
  async prepare(records: readonly SinkRecord[], indexFor: (record: SinkRecord) => string | Error): Promise<void> {
    const seen = new Map<string, { schema: string; table: string; first: Map<string, bigint> }>();
    for (const r of records) {
      if (!r.after || !r.source || (r.op !== 'c' && r.op !== 'u' && r.op !== 'r')) continue;
      const index = indexFor(r);
      if (index instanceof Error) continue;
      let entry = seen.get(index);
      if (!entry) seen.set(index, (entry = { schema: r.source.schema, table: r.source.table, first: new Map() }));
      for (const column of Object.keys(r.after)) {
        const lsn = entry.first.get(column);
        if (lsn === undefined || r.position.commitLsn < lsn) entry.first.set(column, r.position.commitLsn);
      }
    }
    for (const [index, { schema, table, first }] of seen) {
      const shape = await this.load(index, schema, table);
      if (!shape) continue;
      const unknown = [...first].filter(([c]) => !(c in shape.columns) && !(c in shape.renamed));
      if (unknown.length > 0 || shape.pending.length > 0) await this.gate.exclusive(() => this.change(index, schema, table, new Map(unknown)));
    }
  }

  /** The record in its index's current shape (the same object when nothing applies). */
  adapt(record: SinkRecord, index: string): SinkRecord {
    const shape = this.shapes.get(index);
    if (!shape || (Object.keys(shape.renamed).length === 0 && Object.keys(shape.defaults).length === 0)) return record;
    const lsn = record.position.commitLsn;
    const after = record.after ? adaptRow(record.after, shape, lsn, true) : null;
    const before = record.before ? adaptRow(record.before, shape, lsn, false) : null;
    return after === record.after && before === record.before ? record : { ...record, after, before };
  }

  private async load(index: string, schema: string, table: string): Promise<TableShape | null> {
    const known = this.shapes.get(index);
    if (known !== undefined) return known;
    if (!(await this.ctx.ensureIndex(index))) {
      this.shapes.set(index, null);
      return null;
    }
    const { meta } = await this.readMeta(index);
    let shape = parseShape(meta[META_KEY]);
    if (!shape) {
      // First sight (or an index made by an earlier version): the columns as the catalog has them now.
      const described = await this.describe(schema, table);
      shape = { columns: Object.fromEntries((described?.columns ?? []).map((c) => [c.name, c.attnum ?? 0])), renamed: {}, defaults: {}, pending: [] };
      await this.store(index, shape);
    }
    this.shapes.set(index, shape);
    return shape;
  }

  private async describe(schema: string, table: string): ReturnType<SourceCatalog['describe']> {
    try {
      return await this.ctx.catalog.describe(schema, table);
    } catch (e) {
      throw new SinkError(`cannot read the source catalog of ${schema}.${table} (source.url) to check a schema change: ${(e as Error).message}`, { retriable: true, cause: e });
    }
  }

  private async readMeta(index: string): Promise<{ meta: Record<string, unknown> }> {
    try {
      const res = await this.ctx.client.indices.getMapping({ index });
      const first = Object.values(res)[0] as { mappings?: { _meta?: Record<string, unknown> } } | undefined;
      return { meta: first?.mappings?._meta ?? {} };
    } catch (e) {
      throw toSinkError(e, `reading the mapping of ${index}`, this.ctx.url);
    }
  }

  /** Stores the shape in the index's `_meta` (other `_meta` keys kept; put-mapping replaces `_meta` whole). */
  private async store(index: string, shape: TableShape): Promise<void> {
    const { meta } = await this.readMeta(index);
    try {
      await this.ctx.client.indices.putMapping({ index, _meta: { ...meta, [META_KEY]: shape } });
    } catch (e) {
      throw toSinkError(e, `storing the source schema of ${index} in its _meta`, this.ctx.url);
    }
  }

  private async change(index: string, schema: string, table: string, first: Map<string, bigint>): Promise<void> {
    // another partition may have handled it meanwhile: re-read what is stored
    this.shapes.delete(index);
    const shape = await this.load(index, schema, table);
    if (!shape) return;
    const unknown = [...first].filter(([c]) => !(c in shape.columns) && !(c in shape.renamed));
    if (unknown.length > 0) {
      const described = await this.describe(schema, table);
      for (const [column, lsn] of unknown) {
        const src = described?.columns.find((c) => c.name === column);
        const before = lsn.toString();
        const from = src?.attnum === undefined ? undefined : Object.keys(shape.columns).find((n) => shape.columns[n] === src.attnum && n !== column && !described?.columns.some((d) => d.name === n));
        if (src && from !== undefined) {
          // a column renamed twice: earlier names now lead to the newest
          for (const r of Object.values(shape.renamed)) if (r.to === from) r.to = column;
          shape.renamed[from] = { to: column, before };
          delete shape.columns[from];
          shape.pending.push({ kind: 'rename', from, to: column });
        } else {
          const value = src ? missingValueJson(src) : undefined;
          if (value !== undefined) {
            shape.defaults[column] = { value, before };
            shape.pending.push({ kind: 'default', column, value });
          }
        }
        shape.columns[column] = src?.attnum ?? 0;
      }
      this.ctx.log.info({ index, table: `${schema}.${table}`, changes: shape.pending }, 'source schema change: adapting the index');
      await this.store(index, shape);
    }
    if (shape.pending.length > 0) {
      await this.backfill(index, `${schema}.${table}`, shape.pending);
      shape.pending = [];
      await this.store(index, shape);
    }
  }

  /** Rewrites the stored documents that are in the old shape, each with its own version (module comment). */
  private async backfill(index: string, table: string, changes: readonly ShapeChange[]): Promise<void> {
    const { client, url } = this.ctx;
    const rules = this.ctx.fieldRules(table);
    let scrollId: string | undefined;
    let rewritten = 0;
    let newer = 0;
    try {
      await client.indices.refresh({ index });
      let page = await client.search<Record<string, JsonValue>>({ index, scroll: '2m', size: PAGE, version: true, sort: ['_doc'], query: { match_all: {} } });
      scrollId = page._scroll_id;
      while (page.hits.hits.length > 0) {
        const operations: unknown[] = [];
        for (const hit of page.hits.hits) {
          if (hit._id === undefined || hit._version === undefined || !hit._source) continue;
          const doc = backfillDoc(hit._source, changes, rules);
          if (!doc) continue;
          operations.push({ index: { _index: hit._index, _id: hit._id, version: hit._version, version_type: 'external_gte' } }, doc);
        }
        if (operations.length > 0) {
          const res = await client.bulk({ operations, filter_path: 'errors,items.*.status,items.*.error' });
          for (const item of res.items ?? []) {
            const r = Object.values(item)[0];
            if (!r || r.status < 300) rewritten++;
            else if (r.status === 409) newer++;
            else throw new SinkError(`Elasticsearch refused a document of ${index} while applying a schema change of ${table} (${changes.map(describeChange).join(', ')}): ${r.error?.type ?? r.status}: ${r.error?.reason ?? ''}`, { retriable: true });
          }
        }
        if (!scrollId) break;
        page = await client.scroll({ scroll_id: scrollId, scroll: '2m' });
        scrollId = page._scroll_id ?? scrollId;
      }
    } catch (e) {
      throw toSinkError(e, `rewriting the documents of ${index} for a schema change of ${table}`, url);
    } finally {
      if (scrollId) await client.clearScroll({ scroll_id: scrollId }).catch(() => undefined);
    }
    this.ctx.log.info({ index, table, changes: changes.map(describeChange), rewritten, newer }, 'documents not changed since the schema change rewritten (versions kept)');
  }
}

function describeChange(c: ShapeChange): string {
  return c.kind === 'rename' ? `RENAME COLUMN ${c.from} TO ${c.to}` : `ADD COLUMN ${c.column} … DEFAULT ${JSON.stringify(c.value)}`;
}
