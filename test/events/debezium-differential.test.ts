/**
 * Debezium as the oracle (issue 14 deliverable 7): Debezium's PostgreSQL connector (Kafka Connect
 * standalone, jars from Maven Central via stack/debezium/pom.xml) and cdc-fanout's source capture
 * the same WAL of a table covering the whole type matrix — a snapshot of edge-value rows, then
 * inserts, updates (incl. unchanged TOAST and a full-row rewrite), a primary-key change, deletes, a
 * TRUNCATE and an insert after it — once with JsonConverter `schemas.enable=false` and once with
 * `true` (plus provide.transaction.metadata) on both sides. Keys, values, key/value schemas, the
 * transaction block and the `__debezium.*` headers are compared field by field; every difference
 * must match an entry of DEVIATIONS (each named in README's deviations), and every entry marked
 * `always` must still be seen (a fixed deviation fails the test until its entry is removed).
 *
 * Debezium runs with cdc-fanout's converter defaults where Debezium has the option
 * (decimal.handling.mode=string instead of Debezium's precise; the rest are Debezium's defaults),
 * skipped.operations=none (Debezium skips truncates by default) and its default tombstones.
 * Real Postgres + Kafka; its own database, slots, publications and topics, all dropped afterwards.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaSpec } from '../../src/kafka/config.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { debeziumEnsure, debeziumVersions, dropSlotAndPublication, startConnect, type ConnectWorker } from '../../scripts/stack/debezium.js';
import { cleanup, consume, ep, kafka, oneTableSource, uniq, type ConsumedRecord } from '../source/helpers.js';
import { edgeRows, insertSql, matrixFor, matrixTableSql, MATRIX_SETUP, rowArb, type MatrixColumn } from '../support/type-matrix.js';

const id = uniq('dbzdiff');
const dbName = id;
const table = id;
const seed = Number(process.env.CDC_DBZ_SEED ?? Date.now() % 2 ** 31);
const RANDOM_ROWS = 12;
/** The row inserted after the TRUNCATE: when every side has it, every side has everything. */
const LAST_ID = 999_999;

type Side = 'dbz' | 'cf';
const VARIANTS = [false, true] as const;
const slotOf = (side: Side, schemas: boolean): string => `${id}_${side}${schemas ? 1 : 0}`;
const prefixOf = (side: Side, schemas: boolean): string => slotOf(side, schemas).replace(/_/g, '-');
const topicOf = (side: Side, schemas: boolean): string => `${prefixOf(side, schemas)}.public.${table}`;

let debeziumMissing: string | undefined;
try {
  debeziumEnsure(() => undefined);
} catch (e) {
  debeziumMissing = (e as Error).message.split('\n')[0];
  console.warn(`SKIPPED debezium-differential: Kafka Connect + Debezium jars could not be resolved: ${debeziumMissing}`);
}

const dbUrl = (() => {
  const u = new URL(ep.postgresUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

let admin: pg.Client;
let db: pg.Client;
let cols: MatrixColumn[];
let worker: ConnectWorker | undefined;
/** Connect's run directory (configs, offsets, log) is kept for diagnosis unless the test passed. */
let passed = false;
const sources: PostgresSource[] = [];

beforeAll(async () => {
  if (debeziumMissing) return;
  admin = new pg.Client({ connectionString: ep.postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const available = new Set((await db.query<{ name: string }>(`SELECT name FROM pg_available_extensions WHERE name IN ('citext', 'hstore')`)).rows.map((r) => r.name));
  for (const e of available) await db.query(`CREATE EXTENSION ${e}`);
  for (const s of MATRIX_SETUP) await db.query(s);
  cols = matrixFor(available);
  for (const s of matrixTableSql(table, cols)) await db.query(s);
  // a NOT NULL column: Debezium marks its schema field optional=false
  await db.query(`ALTER TABLE ${table} ADD COLUMN c_required int NOT NULL DEFAULT 7`);
  // precisions other than the default: ZonedTimestamp's fraction width follows them
  await db.query(`ALTER TABLE ${table} ADD COLUMN c_tstz3 timestamptz(3) DEFAULT '2024-01-02 03:04:05.1+00', ADD COLUMN c_tstz0 timestamptz(0) DEFAULT '2024-01-02 03:04:05+00'`);
  // one partition per topic on both sides: the comparison is by order within the partition
  const ka = kafka.admin();
  await ka.connect();
  try {
    await ka.createTopics({
      topics: (['dbz', 'cf'] as const).flatMap((s) => [
        ...VARIANTS.map((v) => ({ topic: topicOf(s, v), numPartitions: 1, replicationFactor: 1 })),
        { topic: `${prefixOf(s, true)}.transaction`, numPartitions: 1, replicationFactor: 1 },
      ]),
    });
  } finally {
    await ka.disconnect();
  }
}, 60_000);

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await worker?.stop();
  if (passed) worker?.removeDir();
  else if (worker) console.warn(`debezium-differential: Kafka Connect's log and configs kept in ${worker.dir}`);
  if (debeziumMissing) return;
  await db?.end();
  for (const v of VARIANTS) {
    await dropSlotAndPublication(slotOf('dbz', v), `${slotOf('dbz', v)}_pub`, dbName);
    await dropSlotAndPublication(slotOf('cf', v), `${slotOf('cf', v)}_pub`, dbName);
    for (const s of ['dbz', 'cf'] as const) await cleanup({ topicPrefix: prefixOf(s, v) });
  }
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}, 90_000);

/** Numbers keep their JSON text, so int64 beyond 2^53 and 1.0E300 vs 1e+300 compare exactly. */
class Num {
  constructor(readonly text: string) {}
  equals(o: Num): boolean {
    if (/^-?\d+$/.test(this.text) && /^-?\d+$/.test(o.text)) return BigInt(this.text) === BigInt(o.text);
    return Number(this.text) === Number(o.text);
  }
}
type J = null | boolean | string | Num | J[] | { [k: string]: J };
const parse = (text: string): J => (JSON.parse as (t: string, r: (k: string, v: unknown, c: { source: string }) => unknown) => J)(text, (_k, v, c) => (typeof v === 'number' ? new Num(c.source) : v));
const show = (v: J | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v, (_k, x: unknown) => (x instanceof Num ? `#${x.text}` : x)));

interface Diff {
  /** e.g. `value.payload.after.c_int8`, `value.schema.fields[after].fields[c_int8].optional`. */
  readonly path: string;
  readonly ours: J | undefined;
  readonly theirs: J | undefined;
  readonly where: string;
}

/** Structural diff; arrays of Connect schema fields are matched by their `field` name. */
function diff(ours: J | undefined, theirs: J | undefined, path: string, where: string, out: Diff[]): void {
  if (ours instanceof Num && theirs instanceof Num) {
    if (!ours.equals(theirs)) out.push({ path, ours, theirs, where });
    return;
  }
  const isObj = (v: J | undefined): v is { [k: string]: J } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Num);
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    const named = (a: J[]): boolean => a.length > 0 && a.every((e) => isObj(e) && typeof e.field === 'string');
    if (named(ours) && named(theirs)) {
      const o = new Map(ours.map((e) => [(e as { field: string }).field, e]));
      const t = new Map(theirs.map((e) => [(e as { field: string }).field, e]));
      for (const k of new Set([...o.keys(), ...t.keys()])) diff(o.get(k), t.get(k), `${path}[${k}]`, where, out);
      const order = (m: Map<string, J>, other: Map<string, J>): string => [...m.keys()].filter((k) => other.has(k)).join(',');
      if (order(o, t) !== order(t, o)) out.push({ path: `${path}(order)`, ours: order(o, t), theirs: order(t, o), where });
      return;
    }
    if (ours.length !== theirs.length) {
      out.push({ path, ours, theirs, where });
      return;
    }
    ours.forEach((e, i) => diff(e, theirs[i], `${path}[${i}]`, where, out));
    return;
  }
  if (isObj(ours) && isObj(theirs)) {
    for (const k of new Set([...Object.keys(ours), ...Object.keys(theirs)])) diff(ours[k], theirs[k], `${path}.${k}`, where, out);
    const ko = Object.keys(ours).filter((k) => k in theirs).join(',');
    const kt = Object.keys(theirs).filter((k) => k in ours).join(',');
    if (ko !== kt) out.push({ path: `${path}(order)`, ours: ko, theirs: kt, where });
    return;
  }
  if (ours !== theirs) out.push({ path, ours, theirs, where });
}

interface Rec {
  readonly key: J;
  readonly value: J;
  /** Envelope (the payload when wrapped), null for tombstones. */
  readonly env: { [k: string]: J } | null;
  readonly keyId: string;
  readonly op: string;
  /** Debezium's own headers (__debezium.oldkey/newkey of a primary-key change); cdc.* are ours only. */
  readonly headers: J;
}

function rec(r: ConsumedRecord, schemas: boolean): Rec {
  const key = r.key === null ? null : parse(r.key);
  const value = r.value === null ? null : parse(r.value);
  const env = (value === null ? null : schemas ? (value as { payload: J }).payload : value) as { [k: string]: J } | null;
  const keyPayload = (schemas && key !== null ? (key as { payload: J }).payload : key) as { id?: Num } | null;
  const headers: { [k: string]: J } = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (!k.startsWith('__debezium')) continue;
    try {
      headers[k] = parse(v);
    } catch {
      headers[k] = v;
    }
  }
  return { key, value, env, keyId: keyPayload?.id?.text ?? '-', op: env === null ? 'tombstone' : String(env.op), headers };
}

/**
 * Fields that differ by construction, replaced by placeholders on both sides before the diff:
 * - the topic prefix (in source.name and the schema names): two pipelines cannot share topics;
 * - source.version: each names its own release;
 * - envelope ts_ms/ts_us/ts_ns: each process's own processing time (checked to be present numbers);
 * - snapshot rows' source ts_*, txId, lsn, sequence: each side reads its snapshot at its own point in
 *   its own transaction (Debezium after creating its slot, cdc-fanout at the slot's consistent point).
 * Streamed rows keep source ts_ms, txId, lsn and sequence: the same WAL must give the same values.
 */
function normalise(r: Rec, prefix: string): void {
  const fix = (v: J): J => {
    if (typeof v === 'string') return v.startsWith(`${prefix}.`) || v === prefix ? `<prefix>${v.slice(prefix.length)}` : v;
    if (Array.isArray(v)) return v.map(fix);
    if (v !== null && typeof v === 'object' && !(v instanceof Num)) {
      for (const k of Object.keys(v)) v[k] = fix(v[k] as J);
    }
    return v;
  };
  fix(r.key);
  fix(r.value);
  const env = r.env;
  if (!env) return;
  for (const k of ['ts_ms', 'ts_us', 'ts_ns']) {
    expect(env[k], `envelope ${k} is a number`).toBeInstanceOf(Num);
    env[k] = '<time>';
  }
  const src = env.source as { [k: string]: J };
  src.version = '<version>';
  if (env.op === 'r') for (const k of ['ts_ms', 'ts_us', 'ts_ns', 'txId', 'lsn', 'sequence']) if (k in src) src[k] = '<snapshot>';
}

/** Path with `.payload` dropped and before/after folded into `row`. */
function normPath(p: string): string {
  return p
    .replace(/^(key|value)\.payload/, '$1')
    .replace(/fields\[(before|after)\]/g, 'fields[row]')
    .replace(/^value\.(before|after)\./, 'value.row.');
}

const colOf = (p: string): string | undefined => /^value\.row\.(\w+)/.exec(p)?.[1] ?? /^value\.schema\.fields\[row\]\.fields\[(\w+)\]/.exec(p)?.[1];
const isInt = (v: J | undefined): v is string => typeof v === 'string' && /^-?\d+$/.test(v);
const big = (v: J | undefined): bigint | undefined => (v instanceof Num && /^-?\d+$/.test(v.text) ? BigInt(v.text) : isInt(v) ? BigInt(v) : undefined);

interface Deviation {
  readonly id: string;
  /** Text that README's deviations contain for this entry. */
  readonly readme: string;
  /** Why (also in README). */
  readonly reason: string;
  /** Shown by the fixed (edge) rows of every run: must be seen, else the entry is stale. */
  readonly always: boolean;
  readonly match: (path: string, ours: J | undefined, theirs: J | undefined) => boolean;
}

/** Every known difference from Debezium 3.6.1 (same converter settings), each listed in README. */
const DEVIATIONS: readonly Deviation[] = [
  {
    id: 'int64-beyond-2^53-as-string',
    readme: 'int8 and other 64-bit values beyond ±2^53 are emitted as strings',
    reason: 'JavaScript consumers would round a JSON number beyond 2^53; same digits as Debezium writes',
    always: true,
    match: (p, o, t) => p.startsWith('value.row.') && isInt(o) && t instanceof Num && big(o) === big(t),
  },
  {
    id: 'interval-exact-micros',
    readme: 'intervals keep their exact micros',
    reason: 'Debezium computes MicroDuration in double arithmetic (large values come out a few µs off) and clamps beyond int64; cdc-fanout is exact (a string beyond 2^53)',
    always: true,
    match: (p, o, t) => {
      const ours = big(o);
      const theirs = big(t);
      if (colOf(p) !== 'c_interval' || ours === undefined || theirs === undefined) return false;
      const abs = (x: bigint): bigint => (x < 0n ? -x : x);
      // beyond int64 Debezium clamps; below, its double arithmetic is off by at most a few ulps
      return abs(ours) >= 2n ** 63n || abs(ours - theirs) <= abs(ours) / 2n ** 48n + 1n;
    },
  },
  {
    id: 'numeric-special-values',
    readme: 'numeric `NaN`/`Infinity`/`-Infinity`',
    reason: "Postgres's own spellings (Debezium writes its enum names NAN, POSITIVE_INFINITY, NEGATIVE_INFINITY)",
    always: true,
    match: (p, o, t) => (colOf(p) === 'c_numeric' || colOf(p) === 'c_numeric_fixed') && ((o === 'NaN' && t === 'NAN') || (o === 'Infinity' && t === 'POSITIVE_INFINITY') || (o === '-Infinity' && t === 'NEGATIVE_INFINITY')),
  },
  {
    id: 'date-infinity',
    readme: '`date` ±infinity',
    reason: 'int32 bounds; Debezium 3.6 turns date ±infinity into unrelated day counts',
    always: true,
    match: (p, o, t) => colOf(p) === 'c_date' && o instanceof Num && (o.text === '2147483647' || o.text === '-2147483648') && t instanceof Num,
  },
  {
    id: 'float4-text',
    readme: '`float4` values are the server text',
    reason: "Postgres's shortest float4 text (1e-45) vs Java's Float.toString (1.4E-45): the same float32",
    always: true,
    match: (p, o, t) => colOf(p) === 'c_float4' && o instanceof Num && t instanceof Num && Math.fround(Number(o.text)) === Math.fround(Number(t.text)),
  },
  {
    id: 'hstore-key-order',
    readme: '`hstore` JSON keeps the server order',
    reason: "the keys in Postgres's hstore output order; Debezium's (Java map) order differs; the same object",
    always: false,
    match: (p, o, t) => colOf(p) === 'c_hstore' && typeof o === 'string' && typeof t === 'string' && JSON.stringify(Object.entries(JSON.parse(o) as object).sort()) === JSON.stringify(Object.entries(JSON.parse(t) as object).sort()),
  },
  {
    id: 'not-null-optional',
    readme: 'NOT NULL columns are `optional: true`',
    reason: 'Postgres sends no value for them in the `before` of the default replica identity, where cdc-fanout writes null; a null in a required field is rejected by JsonConverter readers',
    always: true,
    match: (p, o, t) => /^value\.schema\.fields\[row\]\.fields\[\w+\]\.optional$/.test(p) && o === true && t === false,
  },
  {
    id: 'column-defaults',
    readme: 'Column defaults are not in the schema',
    reason: "Debezium's schemas carry constant column defaults, and JsonConverter (replace.null.with.default) then writes the default for a null, e.g. in the `before` of a delete where Postgres sent no value; cdc-fanout writes null",
    always: true,
    match: (p, o, t) =>
      (/^value\.schema\.fields\[row\]\.fields\[\w+\]\.default$/.test(p) && o === undefined) ||
      (p.startsWith('value.row.') && o === null && t !== null && t !== undefined && ['c_required', 'c_tstz3', 'c_tstz0'].includes(colOf(p) ?? '')),
  },
  {
    id: 'money-text',
    readme: '`money` is the server text',
    reason: "Postgres's lc_monetary output (currency symbol, grouping); Debezium converts to a decimal (string mode)",
    always: true,
    match: (p, o, t) => colOf(p) === 'c_money' && typeof o === 'string' && typeof t === 'string' && o.replace(/[^\d.-]/g, '') === t,
  },
  {
    id: 'bits-as-text',
    readme: '`bit(n>1)`/`varbit` are 0/1 strings',
    reason: 'readable and lossless (length kept); Debezium: io.debezium.data.Bits bytes (base64)',
    always: true,
    match: (p, o, t) => (colOf(p) === 'c_bit4' || colOf(p) === 'c_varbit') && (p.startsWith('value.row.') ? typeof o === 'string' && /^[01]*$/.test(o) && typeof t === 'string' : true),
  },
  {
    id: 'multidimensional-arrays',
    readme: 'multi-dimensional arrays',
    reason: 'kept as nested JSON arrays; Debezium writes null (it cannot convert them)',
    always: true,
    match: (p, o, t) => colOf(p) === 'c_int_arr' && (t === null || t === undefined) && Array.isArray(o),
  },
  {
    id: 'geometric-as-text',
    readme: 'geometric types are their text',
    reason: "point is the server text '(x,y)'; Debezium: io.debezium.data.geometry.Point {x,y,wkb,srid}",
    always: true,
    match: (p) => colOf(p) === 'c_point',
  },
  {
    id: 'columns-debezium-drops',
    readme: 'composite types and `box`',
    reason: 'captured as their text; Debezium has no converter and leaves the columns out',
    always: true,
    match: (p, _o, t) => (colOf(p) === 'c_pair' || colOf(p) === 'c_box') && t === undefined,
  },
  {
    id: 'transaction-id-per-transaction',
    readme: '`transaction.id` is one per transaction',
    reason: "Debezium 3.6 forms each event's transaction id from that event's own LSN, so it changes inside a transaction; cdc-fanout's is `<xid>:<first change LSN>` for all its events and its BEGIN/END records (equal to Debezium's on the first event)",
    always: true,
    match: (p, o, t) => p === 'value.transaction.id' && typeof o === 'string' && typeof t === 'string' && o.split(':')[0] === t.split(':')[0],
  },
  {
    id: 'truncate-key-on-compacted-topics',
    readme: 'TRUNCATE events on compacted data topics have the key `{}`',
    reason: "Kafka rejects null-key records on compacted topics (topic.cleanup.policy=compact, cdc-fanout's default); Debezium's truncate key is null",
    always: true,
    match: (p, o, t) => {
      const empty = (v: J | undefined): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Num) && Object.keys(v).length === 0;
      const payload = typeof o === 'object' && o !== null && !Array.isArray(o) && !(o instanceof Num) ? o.payload : undefined;
      return p === 'key' && t === null && (empty(o) || empty(payload));
    },
  },
  {
    id: 'context-headers',
    readme: '`__debezium.context.*` headers',
    reason: "Debezium's per-record observability headers (connector name, task, run id) are not written; cdc-fanout writes its cdc.* position headers",
    always: true,
    match: (p, o) => p.startsWith('headers.__debezium.context.') && o === undefined,
  },
];


describe.skipIf(debeziumMissing !== undefined)(`Debezium differential${debeziumMissing ? ` (skipped: ${debeziumMissing})` : ''}`, () => {
  it(`same WAL, same keys, values and schemas as Debezium (seed ${seed}; replay CDC_DBZ_SEED=${seed})`, { timeout: 300_000 }, async () => {
    console.log(`debezium differential: ${JSON.stringify(debeziumVersions())}, seed ${seed}`);
    const insert = insertSql(table, cols);
    const edges = edgeRows(cols);
    for (const [i, r] of edges.entries()) await db.query(insert, [i + 1, ...r]);

    const common = {
      'database.dbname': dbName,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': `public\\.${table}`,
      'snapshot.mode': 'initial',
      'decimal.handling.mode': 'string',
      'skipped.operations': 'none',
    };
    worker = await startConnect({
      log: () => undefined,
      connectors: VARIANTS.map((v) => ({
        name: slotOf('dbz', v),
        config: {
          ...common,
          'topic.prefix': prefixOf('dbz', v),
          'publication.name': `${slotOf('dbz', v)}_pub`,
          'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
          'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
          'key.converter.schemas.enable': v,
          'value.converter.schemas.enable': v,
          // the transaction block is compared in the schemas=true run
          'provide.transaction.metadata': v,
        },
      })),
    });
    const logSink = new Writable({ write: (_c, _e, done) => done() });
    const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': 1 });
    for (const v of VARIANTS) {
      const s = new PostgresSource(
        oneTableSource(slotOf('cf', v), {
          'database.dbname': dbName,
          'table.include.list': `public\\.${table}`,
          'topic.prefix': prefixOf('cf', v),
          'schemas.enable': v,
          'provide.transaction.metadata': v,
        }),
        kafkaConfig,
        pino({ level: 'warn' }, logSink),
      );
      sources.push(s);
      await s.start();
    }
    for (const v of VARIANTS) await worker.waitRunning(slotOf('dbz', v));
    // Debezium reads its snapshot at a point of its own after creating the slot (not the slot's
    // exported snapshot), so the streamed changes start only once every side has its whole snapshot
    const topics = (['dbz', 'cf'] as const).flatMap((s) => VARIANTS.map((v) => topicOf(s, v)));
    const snapshotDone = (recs: readonly ConsumedRecord[]): boolean => topics.every((t) => recs.filter((r) => r.topic === t && r.value !== null).length >= edges.length);
    expect(snapshotDone(await consume(topics, snapshotDone, 150_000)), 'every side has snapshotted the edge rows').toBe(true);

    const base = edges.length;
    const random = fc.sample(rowArb(cols), { seed, numRuns: RANDOM_ROWS });
    await db.query('BEGIN');
    for (const [i, r] of random.entries()) await db.query(insert, [base + 1 + i, ...r]);
    await db.query('COMMIT');
    // unchanged TOAST: c_big is not sent, both sides emit the placeholder
    await db.query(`UPDATE ${table} SET c_bool = NOT coalesce(c_bool, false) WHERE id <= 2`);
    // every column rewritten with another row's values (the type matrix through UPDATE)
    const list = cols.map((c) => c.col).join(', ');
    await db.query(`UPDATE ${table} SET (${list}) = (SELECT ${list} FROM ${table} s WHERE s.id = ${base + 1}) WHERE id = ${base + 2}`);
    await db.query(`UPDATE ${table} SET (${list}) = (SELECT ${list} FROM ${table} s WHERE s.id = 1) WHERE id = ${base + 3}`);
    // primary-key change: delete + tombstone + create with the oldkey/newkey headers
    await db.query(`UPDATE ${table} SET id = 500000 WHERE id = ${base + 4}`);
    await db.query(`DELETE FROM ${table} WHERE id IN (3, ${base + 5})`);
    await db.query(`TRUNCATE ${table}`);
    await db.query(`INSERT INTO ${table} (id, c_text) VALUES (${LAST_ID}, 'after truncate')`);

    const lastOnEvery = (recs: readonly ConsumedRecord[]): boolean => topics.every((t) => recs.some((r) => r.topic === t && r.value !== null && (r.key ?? '').includes(String(LAST_ID))));
    const all = await consume(topics, lastOnEvery, 120_000);
    expect(lastOnEvery(all), 'every side reached the insert after the TRUNCATE').toBe(true);
    const got = new Map<string, Rec[]>();
    for (const side of ['dbz', 'cf'] as const) {
      for (const v of VARIANTS) got.set(`${side}${v}`, all.filter((r) => r.topic === topicOf(side, v)).map((r) => rec(r, v)));
    }

    const diffs: Diff[] = [];
    for (const v of VARIANTS) {
      const ours = got.get(`cf${v}`) as Rec[];
      const theirs = got.get(`dbz${v}`) as Rec[];
      // snapshot rows in key order (both read the table unordered); the rest in stream order
      const bySnapshot = (rs: Rec[]): Rec[] => [...rs.filter((r) => r.op === 'r').sort((a, b) => Number(a.keyId) - Number(b.keyId)), ...rs.filter((r) => r.op !== 'r')];
      const o = bySnapshot(ours);
      const t = bySnapshot(theirs);
      expect(o.map((r) => `${r.op}:${r.keyId}`), `record sequence (schemas=${v})`).toEqual(t.map((r) => `${r.op}:${r.keyId}`));
      o.forEach((r, i) => {
        const th = t[i] as Rec;
        const where = `schemas=${v} #${i} ${r.op} id=${r.keyId}`;
        normalise(r, prefixOf('cf', v));
        normalise(th, prefixOf('dbz', v));
        diff(r.key, th.key, 'key', where, diffs);
        diff(r.value, th.value, 'value', where, diffs);
        diff(r.headers, th.headers, 'headers', where, diffs);
      });
    }
    const unexplained = new Map<string, string>();
    const seen = new Map<string, number>();
    for (const d of diffs) {
      const p = normPath(d.path);
      const rule = DEVIATIONS.find((x) => x.match(p, d.ours, d.theirs));
      if (rule) seen.set(rule.id, (seen.get(rule.id) ?? 0) + 1);
      else if (!unexplained.has(p.replace(/\[\d+\]/g, '[]'))) unexplained.set(p.replace(/\[\d+\]/g, '[]'), `${p}: ours ${show(d.ours)} Debezium ${show(d.theirs)} (${d.where})`);
    }
    console.log(`debezium differential: ${diffs.length} differences, by deviation: ${JSON.stringify(Object.fromEntries(seen))}`);
    // every difference is a listed deviation…
    expect([...unexplained.values()], 'differences from Debezium not in DEVIATIONS (one example per path)').toEqual([]);
    // …and every listed deviation that the fixed rows always show is still there (fixed → remove the entry)
    expect(DEVIATIONS.filter((x) => x.always && !seen.has(x.id)).map((x) => x.id), 'DEVIATIONS no longer seen').toEqual([]);
    // each deviation is named in README's deviations
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(DEVIATIONS.filter((x) => !readme.includes(x.readme)).map((x) => `${x.id}: "${x.readme}"`), 'DEVIATIONS missing from README').toEqual([]);
    passed = true;
  });
});
