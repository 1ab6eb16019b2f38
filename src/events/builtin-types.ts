/**
 * Built-in pg_catalog types with fixed OIDs, so the common case needs no catalog query (and unit
 * tests need no server). The integration test checks this table against the live pg_type.
 * User types (enums, domains, extension types such as citext/hstore) come from the TypeRegistry.
 */
import type { ColumnType, TypeKind } from './types.js';

/** Conversion kind of a non-domain, non-array, non-enum type by its pg_catalog / extension name. */
export function kindOfTypeName(name: string): TypeKind {
  switch (name) {
    case 'bool':
      return 'bool';
    case 'int2':
      return 'int2';
    case 'int4':
      return 'int4';
    case 'int8':
      return 'int8';
    case 'oid':
    case 'xid':
    case 'cid':
      return 'oid';
    case 'float4':
      return 'float4';
    case 'float8':
      return 'float8';
    case 'numeric':
      return 'numeric';
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'char':
    case 'citext':
      return 'text';
    case 'uuid':
      return 'uuid';
    case 'json':
      return 'json';
    case 'jsonb':
      return 'jsonb';
    case 'bytea':
      return 'bytea';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'timetz':
      return 'timetz';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
    case 'interval':
      return 'interval';
    case 'bit':
      return 'bit';
    case 'hstore':
      return 'hstore';
    default:
      return 'string';
  }
}

// [oid, typname, typcategory, typdelim] of the scalar built-ins.
const SCALARS: readonly (readonly [number, string, string, string])[] = [
  [16, 'bool', 'B', ','],
  [17, 'bytea', 'U', ','],
  [18, 'char', 'Z', ','],
  [19, 'name', 'S', ','],
  [20, 'int8', 'N', ','],
  [21, 'int2', 'N', ','],
  [23, 'int4', 'N', ','],
  [25, 'text', 'S', ','],
  [26, 'oid', 'N', ','],
  [28, 'xid', 'U', ','],
  [29, 'cid', 'U', ','],
  [114, 'json', 'U', ','],
  [142, 'xml', 'U', ','],
  [600, 'point', 'G', ','],
  [601, 'lseg', 'G', ','],
  [602, 'path', 'G', ','],
  [603, 'box', 'G', ';'],
  [604, 'polygon', 'G', ','],
  [628, 'line', 'G', ','],
  [650, 'cidr', 'I', ','],
  [700, 'float4', 'N', ','],
  [701, 'float8', 'N', ','],
  [718, 'circle', 'G', ','],
  [774, 'macaddr8', 'U', ','],
  [790, 'money', 'N', ','],
  [829, 'macaddr', 'U', ','],
  [869, 'inet', 'I', ','],
  [1042, 'bpchar', 'S', ','],
  [1043, 'varchar', 'S', ','],
  [1082, 'date', 'D', ','],
  [1083, 'time', 'D', ','],
  [1114, 'timestamp', 'D', ','],
  [1184, 'timestamptz', 'D', ','],
  [1186, 'interval', 'T', ','],
  [1266, 'timetz', 'D', ','],
  [1560, 'bit', 'V', ','],
  [1562, 'varbit', 'V', ','],
  [1700, 'numeric', 'N', ','],
  [2950, 'uuid', 'U', ','],
  [3220, 'pg_lsn', 'U', ','],
  [3614, 'tsvector', 'U', ','],
  [3615, 'tsquery', 'U', ','],
  [3802, 'jsonb', 'U', ','],
  [3904, 'int4range', 'R', ','],
  [3906, 'numrange', 'R', ','],
  [3908, 'tsrange', 'R', ','],
  [3910, 'tstzrange', 'R', ','],
  [3912, 'daterange', 'R', ','],
  [3926, 'int8range', 'R', ','],
  [4072, 'jsonpath', 'U', ','],
  [4451, 'int4multirange', 'R', ','],
  [4532, 'nummultirange', 'R', ','],
  [4533, 'tsmultirange', 'R', ','],
  [4534, 'tstzmultirange', 'R', ','],
  [4535, 'datemultirange', 'R', ','],
  [4536, 'int8multirange', 'R', ','],
  [5069, 'xid8', 'U', ','],
];

// [array oid, element oid] of the built-in array types.
const ARRAYS: readonly (readonly [number, number])[] = [
  [143, 142], [199, 114], [629, 628], [651, 650], [719, 718], [775, 774], [791, 790], [1000, 16],
  [1001, 17], [1002, 18], [1003, 19], [1005, 21], [1007, 23], [1009, 25], [1011, 28], [1014, 1042],
  [1015, 1043], [1016, 20], [1017, 600], [1018, 601], [1019, 602], [1020, 603], [1021, 700],
  [1022, 701], [1027, 604], [1028, 26], [1040, 829], [1041, 869], [1115, 1114], [1182, 1082],
  [1183, 1083], [1185, 1184], [1187, 1186], [1231, 1700], [1270, 1266], [1561, 1560], [1563, 1562],
  [2951, 2950], [3221, 3220], [3643, 3614], [3807, 3802], [3905, 3904], [3907, 3906], [3909, 3908],
  [3911, 3910], [3913, 3912], [3927, 3926], [4073, 4072],
];

function build(): Map<number, ColumnType> {
  const map = new Map<number, ColumnType>();
  for (const [oid, name, category, delimiter] of SCALARS) {
    map.set(oid, Object.freeze({ oid, name, schema: 'pg_catalog', typmod: -1, category, kind: kindOfTypeName(name), delimiter }));
  }
  for (const [oid, elemOid] of ARRAYS) {
    const element = map.get(elemOid);
    if (!element) throw new Error(`builtin-types: array ${oid} refers to unknown element ${elemOid}`);
    map.set(
      oid,
      Object.freeze({ oid, name: `_${element.name}`, schema: 'pg_catalog', typmod: -1, category: 'A', kind: 'array' as const, element, delimiter: element.delimiter }),
    );
  }
  return map;
}

/** Built-in types by OID (frozen; shared by every TypeRegistry). */
export const BUILTIN_TYPES: ReadonlyMap<number, ColumnType> = build();

/** Built-in type by name (`int4`, `_text`, …); throws for an unknown name. Handy in tests. */
export function builtinType(name: string): ColumnType {
  for (const t of BUILTIN_TYPES.values()) if (t.name === name) return t;
  throw new Error(`no built-in type named "${name}"`);
}
