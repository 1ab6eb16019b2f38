/**
 * Relation cache: pgoutput relation OID → RelationInfo (the events layer's column-type model).
 * pgoutput sends a Relation message before the first change of a table in a session and again after
 * any ALTER (add/drop/rename column, type change); each one replaces the cached entry, so the events
 * layer builds fresh converters for the new shape — no restart. Types are resolved through the
 * events TypeRegistry (built-ins statically, enums/domains/extension types from pg_type).
 */
import type { TypeRegistry } from '../events/type-registry.js';
import type { Column, RelationInfo } from '../events/types.js';
import type { RawRelation } from './raw-change.js';

export class RelationCache {
  private readonly byOid = new Map<number, RelationInfo>();
  private readonly fromRaw = new WeakMap<RawRelation, RelationInfo>();

  constructor(private readonly types: TypeRegistry) {}

  /** Describes (and caches) a relation from a Relation message; replaces any older shape. */
  async update(raw: RawRelation): Promise<RelationInfo> {
    await this.types.load(raw.columns.map((c) => c.typeOid));
    const columns: Column[] = raw.columns.map((c) => ({ name: c.name, type: this.types.get(c.typeOid), typmod: c.typeMod, isKey: c.isKey }));
    const info: RelationInfo = { oid: raw.oid, schema: raw.schema, table: raw.table, columns, keyColumns: raw.keyColumns, replicaIdentity: raw.replicaIdentity };
    this.byOid.set(raw.oid, info);
    this.fromRaw.set(raw, info);
    return info;
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
