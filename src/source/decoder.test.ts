import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { describe, expect, it } from 'vitest';
import { PgoutputDecoder, RawPgoutputPlugin } from './decoder.js';
import { UNCHANGED_TOAST, type RawChange, type RawTuple, type RawValue } from './raw-change.js';

/** pgoutput protocol 1 message bytes (the part after the XLogData header). */
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const ch = (c: string): Buffer => Buffer.from(c, 'latin1');

interface Col {
  name: string;
  key: boolean;
}
function relationMsg(oid: number, cols: Col[]): Buffer {
  return Buffer.concat([
    ch('R'),
    i32(oid),
    cstr('public'),
    cstr('t'),
    Buffer.from([0x64]), // replica identity 'd'
    i16(cols.length),
    ...cols.flatMap((c) => [Buffer.from([c.key ? 1 : 0]), cstr(c.name), i32(25), i32(-1)]),
  ]);
}
/** A tuple value: text, null, or 'u' (unchanged TOAST). */
type V = string | null | 'U';
function tuple(values: V[]): Buffer {
  return Buffer.concat([
    i16(values.length),
    ...values.map((v) => {
      if (v === null) return ch('n');
      if (v === 'U') return ch('u');
      const bytes = Buffer.from(v, 'utf8');
      return Buffer.concat([ch('t'), i32(bytes.length), bytes]);
    }),
  ]);
}

/** What the decoder made of the library's parse before it parsed row changes itself (the reference). */
function reference(msg: Pgoutput.Message, cols: readonly Col[]): RawChange {
  const full = (t: Record<string, unknown>): RawTuple => cols.map((c): RawValue => (t[c.name] === undefined ? UNCHANGED_TOAST : t[c.name] === null ? null : String(t[c.name])));
  const keyOnly = (t: Record<string, unknown>): RawTuple => cols.map((c): RawValue => (t[c.name] === undefined || t[c.name] === null ? null : String(t[c.name])));
  const rel = expect.anything() as never;
  switch (msg.tag) {
    case 'insert':
      return { kind: 'insert', relation: rel, after: full(msg.new) };
    case 'update':
      return { kind: 'update', relation: rel, before: msg.old ? full(msg.old) : msg.key ? keyOnly(msg.key) : null, after: full(msg.new) };
    case 'delete':
      return { kind: 'delete', relation: rel, before: msg.old ? full(msg.old) : keyOnly(msg.key as Record<string, unknown>) };
    default:
      throw new Error(`unexpected ${msg.tag}`);
  }
}

const options = { protoVersion: 1 as const, publicationNames: ['p'] };

function both(cols: Col[], rows: Buffer[]): Array<{ ours: RawChange; library: RawChange }> {
  const lib = new PgoutputPlugin(options);
  const plugin = new RawPgoutputPlugin(options);
  const decoder = new PgoutputDecoder(plugin);
  const rel = relationMsg(16384, cols);
  lib.parse(rel);
  const described = decoder.decode(plugin.parse(rel));
  expect(described.kind).toBe('relation');
  return rows.map((m) => {
    const library = reference(lib.parse(m), cols);
    const ours = decoder.decode(plugin.parse(m));
    expect('relation' in ours && ours.relation).toBe(described.kind === 'relation' && described.relation);
    return { ours, library };
  });
}

describe('pgoutput row changes parsed by the plugin itself', () => {
  const cols: Col[] = [
    { name: 'id', key: true },
    { name: 'a', key: false },
    { name: 'b', key: false },
    { name: 'k2', key: true },
  ];
  const values: V[][] = [
    ['1', 'x', null, 'k'],
    ['2', 'Grüße, 日本語 🙂', '', 'é'],
    ['3', 'U', 'long\ntext "quoted" \\ back', 'k'],
    [null, null, null, null],
  ];

  it('gives the same raw changes as the library parser for inserts, updates (N, K+N, O+N) and deletes (K, O)', () => {
    const rows: Buffer[] = [];
    for (const v of values) {
      rows.push(Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(v)]));
      rows.push(Buffer.concat([ch('U'), i32(16384), ch('N'), tuple(v)]));
      rows.push(Buffer.concat([ch('U'), i32(16384), ch('K'), tuple([v[0] ?? null, null, null, v[3] ?? null]), ch('N'), tuple(v)]));
      // REPLICA IDENTITY FULL: unchanged TOAST in the new tuple comes from the old one
      rows.push(Buffer.concat([ch('U'), i32(16384), ch('O'), tuple(['9', 'old a', 'old b', 'U']), ch('N'), tuple(['9', 'U', 'U', 'U'])]));
      rows.push(Buffer.concat([ch('D'), i32(16384), ch('K'), tuple([v[0] ?? null, 'U', 'not a key', v[3] ?? null])]));
      rows.push(Buffer.concat([ch('D'), i32(16384), ch('O'), tuple(v)]));
      // fewer values than columns (a column added after the row was written): the rest unchanged/absent
      rows.push(Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(v.slice(0, 2))]));
    }
    const pairs = both(cols, rows);
    expect(pairs.length).toBe(values.length * 7);
    for (const { ours, library } of pairs) expect(ours).toEqual(library);
    // the fallback case really took the old values, and an unchanged value without an old row is the marker
    const fullUpdate = pairs[3]!.ours as Extract<RawChange, { kind: 'update' }>;
    expect(fullUpdate.after).toEqual(['9', 'old a', 'old b', UNCHANGED_TOAST]);
    expect((pairs[2]!.ours as Extract<RawChange, { kind: 'update' }>).before).toEqual(['1', null, null, 'k']);
  });

  it('keeps a leading byte-order mark in a text value (the library TextDecoder drops it)', () => {
    const ours = both(cols, [Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(['1', '\uFEFFbom', null, 'k'])])])[0]!.ours;
    expect((ours as Extract<RawChange, { kind: 'insert' }>).after[1]).toBe('\uFEFFbom');
  });

  it('fails clearly on a relation nobody described and on truncated messages', () => {
    const plugin = new RawPgoutputPlugin(options);
    expect(() => plugin.parse(Buffer.concat([ch('I'), i32(1), ch('N'), tuple(['1'])]))).toThrow(/missing relation/);
    plugin.parse(relationMsg(16384, cols));
    const insert = Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(['1', 'abc', null, 'k'])]);
    expect(() => plugin.parse(insert.subarray(0, insert.length - 3))).toThrow(/unexpected end of message/);
    expect(() => plugin.parse(Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(['1', '2', '3', '4', '5'])]))).toThrow(/5 values but its Relation message described 4 columns/);
  });
});
