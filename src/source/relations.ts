/**
 * Relation cache: pgoutput relation OID → RelationInfo (the events layer's column-type model).
 * pgoutput sends a Relation message before the first change of a table in a session and again after
 * any ALTER (add/drop/rename column, type change); each one replaces the cached entry, so the events
 * layer builds fresh converters for the new shape — no restart. Types are resolved through the
 * events TypeRegistry (built-ins statically, enums/domains/extension types from pg_type).
 */
import type { Queryable, TypeRegistry } from '../events/type-registry.js';
import type { Column, RelationInfo } from '../events/types.js';
import type { RawRelation } from './raw-change.js';

export class RelationCache {
  private readonly byOid = new Map<number, RelationInfo>();
  private readonly fromRaw = new WeakMap<RawRelation, RelationInfo>();

  /** `db` reads primary keys from the catalog for REPLICA IDENTITY FULL tables (see keyColumnsOf). */
  constructor(
    private readonly types: TypeRegistry,
    private readonly db?: Queryable,
  ) {}

  /** Describes (and caches) a relation from a Relation message; replaces any older shape. */
  async update(raw: RawRelation): Promise<RelationInfo> {
    await this.types.load(raw.columns.map((c) => c.typeOid));
    const keyColumns = await this.keyColumnsOf(raw);
    const keys = new Set(keyColumns);
    const columns: Column[] = raw.columns.map((c) => ({ name: c.name, type: this.types.get(c.typeOid), typmod: c.typeMod, isKey: keys.has(c.name) }));
    const info: RelationInfo = { oid: raw.oid, schema: raw.schema, table: raw.table, columns, keyColumns, replicaIdentity: raw.replicaIdentity };
    this.byOid.set(raw.oid, info);
    this.fromRaw.set(raw, info);
    return info;
  }

  /**
   * pgoutput flags the replica-identity columns as "key". With REPLICA IDENTITY FULL that is every
   * column, but the event key (and so the topic partition, the ES _id, the ClickHouse ORDER BY key)
   * must stay the primary key, as in Debezium — otherwise every update looks like a key change.
   * So for FULL tables the primary key comes from the catalog; a FULL table without one keeps all
   * columns (Debezium's behaviour for keyless tables is configured through message.key.columns).
   */
  private async keyColumnsOf(raw: RawRelation): Promise<readonly string[]> {
    if (raw.replicaIdentity !== 'full' || !this.db) return raw.keyColumns;
    const { rows } = await this.db.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
      [raw.oid],
    );
    return rows.length > 0 ? rows.map((r) => r.attname) : raw.keyColumns;
  }

  /** The RelationInfo for a row's relation (described by an earlier Relation message). */
  async get(raw: RawRelation): Promise<RelationInfo> {
    return this.fromRaw.get(raw) ?? (await this.update(raw));
  }

  /** Synchronous fast path; undefined when the relation was not described yet. */
  peek(raw: RawRelation): RelationInfo | undefined {
    return this.fromRaw.get(raw);
  }

  byId(oid: number): RelationInfo | undefined {
    return this.byOid.get(oid);
  }
}
