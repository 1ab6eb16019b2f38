/**
 * Decoder adapter: the ONLY module that knows pgoutput (pg-logical-replication's types). It turns
 * pgoutput messages into the neutral RawChange model with raw text column values.
 *
 * pg-logical-replication's PgoutputParser converts text values with the global `pg` type parsers
 * captured per column when a Relation message is parsed. We need the raw text (the events layer
 * converts per Debezium rules), so RawPgoutputPlugin replaces each column's parser with identity
 * right after the Relation message is parsed — synchronously, before any row of that relation is
 * parsed (the service parses messages in stream order).
 *
 * Insert/Update/Delete — one message per row change, the hot path — are parsed here, straight from
 * the message bytes into positional raw tuples (`parseRowChange`): the library's parser builds an
 * object per tuple keyed by column name and decodes each value with a TextDecoder, which we then
 * turned into the positional tuple anyway. Every other message goes through the library's parser.
 * The results are the same: tuple value kinds 't' → text, 'n' → null, 'u' (unchanged TOAST) → the
 * old tuple's value when an old tuple was sent (REPLICA IDENTITY FULL), otherwise UNCHANGED_TOAST;
 * NULL stays null — never confused. Key-only tuples ('K') hold null for non-key columns.
 * (src/source/decoder.test.ts compares both parsers on the same messages.)
 */
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { parseLsn } from '../events/change.js';
import { UNCHANGED_TOAST, type RawChange, type RawColumn, type RawRelation, type RawTuple, type RawValue } from './raw-change.js';

type Message = Pgoutput.Message;
type MessageRelation = Pgoutput.MessageRelation;
type Options = Pgoutput.Options;

const identity = (raw: unknown): unknown => raw;

/** What the plugin hands on: a library message, or a row change it already decoded itself. */
export type ParsedMessage = Message | RowChange;
type RowChange = Extract<RawChange, { kind: 'insert' | 'update' | 'delete' }>;

export class RawPgoutputPlugin extends PgoutputPlugin {
  /** Messages parsed so far (parsing happens on receipt, before the service queues them). */
  parsed = 0;
  /** Relations by oid as of the last Relation message parsed (what row messages refer to). */
  private readonly byOid = new Map<number, RawRelation>();
  /** The RawRelation made for each library Relation message (truncate messages name those). */
  readonly relations = new WeakMap<MessageRelation, RawRelation>();

  constructor(options: Options) {
    super(options);
  }

  // Typed as the library's Message because the service calls it as its plugin's parse; what it
  // returns goes unread to our 'data' listener, which hands it to PgoutputDecoder.decode (ParsedMessage).
  override parse(buffer: Buffer): Message {
    this.parsed++;
    const tag = buffer[0];
    if (tag === 0x49 || tag === 0x55 || tag === 0x44) return parseRowChange(buffer, this.byOid) as unknown as Message;
    const msg = super.parse(buffer);
    if (msg.tag === 'relation') {
      for (const col of msg.columns) col.parser = identity;
      const rel = rawRelation(msg);
      this.byOid.set(rel.oid, rel);
      this.relations.set(msg, rel);
    }
    return msg;
  }
}

function rawRelation(msg: MessageRelation): RawRelation {
  return {
    oid: msg.relationOid,
    schema: msg.schema,
    table: msg.name,
    replicaIdentity: msg.replicaIdentity,
    columns: msg.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typeMod: c.typeMod, isKey: (c.flags & 1) === 1 })),
    keyColumns: [...msg.keyColumns],
  };
}

/**
 * An Insert ('I'), Update ('U') or Delete ('D') message of pgoutput protocol 1 (the bytes after the
 * XLogData header) → the RawChange, with positional tuples over the relation's columns.
 */
export function parseRowChange(buf: Buffer, relations: ReadonlyMap<number, RawRelation>): RowChange {
  const tag = buf[0];
  const rel = relations.get(buf.readInt32BE(1));
  if (!rel) throw new Error('pgoutput protocol error: a row change names a relation no Relation message described (missing relation)');
  const r = new TupleReader(buf, 5);
  const sub = r.byte();
  if (tag === 0x49) {
    // 'I' 'N' tuple
    return { kind: 'insert', relation: rel, after: r.tuple(rel, false, null) };
  }
  if (tag === 0x44) {
    if (sub === 0x4b) return { kind: 'delete', relation: rel, before: r.tuple(rel, true, null) };
    if (sub === 0x4f) return { kind: 'delete', relation: rel, before: r.tuple(rel, false, null) };
    throw new Error(`pgoutput protocol error: unknown submessage key ${String.fromCharCode(sub)} in a Delete message`);
  }
  // 'U' ['K' tuple | 'O' tuple] 'N' tuple
  if (sub === 0x4e) return { kind: 'update', relation: rel, before: null, after: r.tuple(rel, false, null) };
  if (sub === 0x4b || sub === 0x4f) {
    const before = r.tuple(rel, sub === 0x4b, null);
    r.byte(); // 'N'
    // Unchanged TOAST values of the new tuple come from the old one only when that is the full old row.
    return { kind: 'update', relation: rel, before, after: r.tuple(rel, false, sub === 0x4f ? before : null) };
  }
  throw new Error(`pgoutput protocol error: unknown submessage key ${String.fromCharCode(sub)} in an Update message`);
}

class TupleReader {
  constructor(
    private readonly buf: Buffer,
    private pos: number,
  ) {}

  byte(): number {
    if (this.pos >= this.buf.length) throw new Error('pgoutput protocol error: unexpected end of message');
    return this.buf[this.pos++] as number;
  }

  /**
   * TupleData: int16 count, then per column a kind byte and, for 't'/'b', int32 length + bytes.
   * `keyOnly`: a 'K' tuple — non-key columns are null. `fallback`: the old full tuple, for 'u'.
   */
  tuple(rel: RawRelation, keyOnly: boolean, fallback: RawTuple | null): RawTuple {
    const buf = this.buf;
    const cols = rel.columns;
    if (this.pos + 2 > buf.length) throw new Error('pgoutput protocol error: unexpected end of message');
    const n = buf.readInt16BE(this.pos);
    this.pos += 2;
    if (n > cols.length) throw new Error(`pgoutput protocol error: a tuple of ${rel.schema}.${rel.table} has ${n} values but its Relation message described ${cols.length} columns`);
    const out = new Array<RawValue>(cols.length);
    for (let i = 0; i < n; i++) {
      const kind = this.byte();
      let v: RawValue;
      if (kind === 0x74 || kind === 0x62) {
        // 't' text, 'b' binary (never requested; kept as text like before)
        if (this.pos + 4 > buf.length) throw new Error('pgoutput protocol error: unexpected end of message');
        const len = buf.readInt32BE(this.pos);
        const start = this.pos + 4;
        const end = start + len;
        if (len < 0 || end > buf.length) throw new Error('pgoutput protocol error: unexpected end of message');
        this.pos = end;
        v = buf.toString('utf8', start, end);
      } else if (kind === 0x6e) {
        v = null;
      } else if (kind === 0x75) {
        v = keyOnly ? null : fallback ? (fallback[i] as RawValue) : UNCHANGED_TOAST;
      } else {
        throw new Error(`pgoutput protocol error: unknown attribute kind ${String.fromCharCode(kind)}`);
      }
      out[i] = keyOnly && !(cols[i] as RawColumn).isKey ? null : v;
    }
    for (let i = n; i < cols.length; i++) out[i] = keyOnly ? null : UNCHANGED_TOAST;
    return out;
  }
}

function lsnOf(text: string | null): bigint {
  return text === null ? 0n : parseLsn(text);
}

export class PgoutputDecoder {
  constructor(private readonly plugin: RawPgoutputPlugin) {}

  decode(msg: ParsedMessage): RawChange {
    if ('kind' in msg) return msg;
    switch (msg.tag) {
      case 'begin': {
        // pgoutput's commit time is µs since the Unix epoch (exact in a double until year ~2255)
        const us = BigInt(msg.commitTime.toString());
        return { kind: 'begin', xid: msg.xid, commitLsn: lsnOf(msg.commitLsn), commitTimeMs: Number(us / 1000n), commitTimeUs: Number(us) };
      }
      case 'commit':
        return {
          kind: 'commit',
          commitLsn: lsnOf(msg.commitLsn),
          endLsn: lsnOf(msg.commitEndLsn),
          commitTimeMs: Number(BigInt(msg.commitTime.toString()) / 1000n),
        };
      case 'relation':
        return { kind: 'relation', relation: this.relation(msg) };
      case 'insert':
      case 'update':
      case 'delete':
        // The plugin parses these itself (parseRowChange); the library never returns them.
        throw new Error(`pgoutput: ${msg.tag} message reached the library parser`);
      case 'truncate':
        return {
          kind: 'truncate',
          relations: msg.relations.map((r) => this.relation(r)),
          cascade: msg.cascade,
          restartIdentity: msg.restartIdentity,
        };
      case 'message':
        return {
          kind: 'message',
          transactional: msg.transactional,
          lsn: lsnOf(msg.messageLsn),
          prefix: msg.prefix,
          content: Buffer.from(msg.content.buffer, msg.content.byteOffset, msg.content.byteLength),
        };
      case 'origin':
      case 'type':
        return { kind: 'ignored', what: msg.tag };
    }
  }

  private relation(msg: MessageRelation): RawRelation {
    const rel = this.plugin.relations.get(msg);
    if (!rel) throw new Error(`pgoutput: relation ${msg.schema}.${msg.name} (oid ${msg.relationOid}) was not described by a Relation message`);
    return rel;
  }
}

