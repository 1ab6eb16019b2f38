/**
 * TypeRegistry: ColumnType by OID. Built-in types are static (builtin-types.ts); user types (enums,
 * domains, arrays of those, extension types such as citext and hstore) are loaded from
 * pg_type/pg_enum on demand and cached. Domains resolve to their underlying type, arrays carry their
 * resolved element type, so converters never look anything up per value.
 */
import { BUILTIN_TYPES, kindOfTypeName } from './builtin-types.js';
import type { ColumnType } from './types.js';

/** The slice of a `pg` Client/Pool the registry needs. */
export interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

interface PgTypeRow {
  oid: string;
  typname: string;
  nspname: string;
  typtype: string;
  typcategory: string;
  typelem: string;
  typbasetype: string;
  typtypmod: number;
  typdelim: string;
  labels: string[] | null;
}

const TYPE_SQL = `
select t.oid::text as oid, t.typname, n.nspname, t.typtype, t.typcategory,
       (case when t.typcategory = 'A' then t.typelem else 0 end)::text as typelem,
       t.typbasetype::text as typbasetype, t.typtypmod, t.typdelim,
       case when t.typtype = 'e' then
         (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid)
       end as labels
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where t.oid = any($1::oid[])`;

export class TypeRegistry {
  private readonly types = new Map<number, ColumnType>(BUILTIN_TYPES);
  private readonly rows = new Map<number, PgTypeRow>();

  constructor(private readonly db?: Queryable) {}

  /** True when `oid` can be resolved without a catalog query. */
  has(oid: number): boolean {
    return this.types.has(oid);
  }

  /**
   * Loads (and caches) every OID in `oids` not known yet, with the types they depend on
   * (domain base types, array element types). Call it when a relation is (re)described.
   */
  async load(oids: Iterable<number>): Promise<void> {
    let pending = [...new Set(oids)].filter((o) => !this.types.has(o) && !this.rows.has(o));
    while (pending.length > 0) {
      if (!this.db) throw new Error(`TypeRegistry: type OID(s) ${pending.join(', ')} are not built-in and no database connection was given to look them up`);
      const { rows } = await this.db.query<PgTypeRow>(TYPE_SQL, [pending.map(String)]);
      const found = new Set<number>();
      const next: number[] = [];
      for (const row of rows) {
        const oid = Number(row.oid);
        found.add(oid);
        this.rows.set(oid, row);
        for (const dep of [Number(row.typelem), Number(row.typbasetype)]) {
          if (dep !== 0 && !this.types.has(dep) && !this.rows.has(dep)) next.push(dep);
        }
      }
      const missing = pending.filter((o) => !found.has(o));
      if (missing.length > 0) throw new Error(`TypeRegistry: type OID(s) ${missing.join(', ')} not found in pg_type (was the type dropped?)`);
      pending = [...new Set(next)];
    }
  }

  /** The ColumnType of `oid` (a domain keeps its own oid/name but carries its base's kind). Throws if not loaded. */
  get(oid: number): ColumnType {
    const known = this.types.get(oid);
    if (known) return known;
    const row = this.rows.get(oid);
    if (!row) throw new Error(`TypeRegistry: type OID ${oid} is not loaded; call load([${oid}]) first`);
    const built = this.build(row, 0);
    return built;
  }

  /** The underlying type of `oid`: domains (also domains over domains) are replaced by their base type. */
  resolve(oid: number): ColumnType {
    const t = this.get(oid);
    return t.base ?? t;
  }

  /** Drops cached user types (e.g. after ALTER TYPE … ADD VALUE or a domain change); built-ins stay. */
  forget(oids?: Iterable<number>): void {
    const list = oids ? [...oids] : [...this.rows.keys()];
    for (const oid of list) {
      if (BUILTIN_TYPES.has(oid)) continue;
      this.rows.delete(oid);
      this.types.delete(oid);
    }
  }

  private build(row: PgTypeRow, depth: number): ColumnType {
    if (depth > 32) throw new Error(`TypeRegistry: type ${row.nspname}.${row.typname} nests too deeply (domain/array cycle?)`);
    const oid = Number(row.oid);
    const cached = this.types.get(oid);
    if (cached) return cached;
    const dependency = (depOid: number): ColumnType => {
      const known = this.types.get(depOid);
      if (known) return known;
      const depRow = this.rows.get(depOid);
      if (!depRow) throw new Error(`TypeRegistry: type OID ${depOid} (needed by ${row.nspname}.${row.typname}) is not loaded`);
      return this.build(depRow, depth + 1);
    };
    let type: ColumnType;
    const common = { oid, name: row.typname, schema: row.nspname, typmod: row.typtypmod, category: row.typcategory };
    if (row.typtype === 'd') {
      const baseType = dependency(Number(row.typbasetype));
      const base = baseType.base ?? baseType;
      const typmod = row.typtypmod >= 0 ? row.typtypmod : baseType.typmod;
      type = {
        ...common,
        typmod,
        kind: base.kind,
        delimiter: base.delimiter,
        base,
        ...(base.element ? { element: base.element } : {}),
        ...(base.enumLabels ? { enumLabels: base.enumLabels } : {}),
      };
    } else if (row.typcategory === 'A' && Number(row.typelem) !== 0 && row.typname !== 'int2vector' && row.typname !== 'oidvector') {
      const element = dependency(Number(row.typelem));
      type = { ...common, kind: 'array', element, delimiter: element.delimiter };
    } else if (row.typtype === 'e') {
      type = { ...common, kind: 'enum', delimiter: row.typdelim, enumLabels: Object.freeze(row.labels ?? []) };
    } else {
      type = { ...common, kind: kindOfTypeName(row.typname), delimiter: row.typdelim };
    }
    Object.freeze(type);
    this.types.set(oid, type);
    return type;
  }
}
