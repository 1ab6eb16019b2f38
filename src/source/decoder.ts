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
 * Tuple value kinds in the parser: 't' → text, 'n' → null, 'u' (unchanged TOAST) → the old tuple's
 * value when an old tuple was sent (REPLICA IDENTITY FULL), otherwise `undefined`. We map
 * `undefined` to UNCHANGED_TOAST; NULL stays null — never confused.
 */
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { parseLsn } from '../events/change.js';
import { UNCHANGED_TOAST, type RawChange, type RawRelation, type RawTuple, type RawValue } from './raw-change.js';

type Message = Pgoutput.Message;
type MessageRelation = Pgoutput.MessageRelation;
type Options = Pgoutput.Options;

const identity = (raw: unknown): unknown => raw;

export class RawPgoutputPlugin extends PgoutputPlugin {
  /** Messages parsed so far (parsing happens on receipt, before the service queues them). */
  parsed = 0;

  constructor(options: Options) {
    super(options);
  }

  override parse(buffer: Buffer): Message {
    const msg = super.parse(buffer);
    this.parsed++;
    if (msg.tag === 'relation') {
      for (const col of msg.columns) col.parser = identity;
    }
    return msg;
  }
}

function lsnOf(text: string | null): bigint {
  return text === null ? 0n : parseLsn(text);
}

export class PgoutputDecoder {
  private readonly relations = new WeakMap<MessageRelation, RawRelation>();

  decode(msg: Message): RawChange {
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
        return { kind: 'relation', relation: this.relation(msg, true) };
      case 'insert': {
        const rel = this.relation(msg.relation);
        return { kind: 'insert', relation: rel, after: fullTuple(rel, msg.new) };
      }
      case 'update': {
        const rel = this.relation(msg.relation);
        const before = msg.old ? fullTuple(rel, msg.old) : msg.key ? keyTuple(rel, msg.key) : null;
        return { kind: 'update', relation: rel, before, after: fullTuple(rel, msg.new) };
      }
      case 'delete': {
        const rel = this.relation(msg.relation);
        const before = msg.old ? fullTuple(rel, msg.old) : msg.key ? keyTuple(rel, msg.key) : rel.columns.map(() => null);
        return { kind: 'delete', relation: rel, before };
      }
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

  private relation(msg: MessageRelation, fresh = false): RawRelation {
    const cached = fresh ? undefined : this.relations.get(msg);
    if (cached) return cached;
    const rel: RawRelation = {
      oid: msg.relationOid,
      schema: msg.schema,
      table: msg.name,
      replicaIdentity: msg.replicaIdentity,
      columns: msg.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typeMod: c.typeMod, isKey: (c.flags & 1) === 1 })),
      keyColumns: [...msg.keyColumns],
    };
    this.relations.set(msg, rel);
    return rel;
  }
}

/** A full tuple: `undefined` means pgoutput sent 'u' (unchanged TOAST) without an old value. */
function fullTuple(rel: RawRelation, t: Record<string, unknown>): RawTuple {
  const cols = rel.columns;
  const out = new Array<RawValue>(cols.length);
  for (let i = 0; i < cols.length; i++) {
    const v = t[cols[i]!.name];
    out[i] = v === undefined ? UNCHANGED_TOAST : v === null ? null : String(v);
  }
  return out;
}

/** A key-only tuple ('K'): the parser sets non-key columns to undefined — they become NULL. */
function keyTuple(rel: RawRelation, t: Record<string, unknown>): RawTuple {
  const cols = rel.columns;
  const out = new Array<RawValue>(cols.length);
  for (let i = 0; i < cols.length; i++) {
    const v = t[cols[i]!.name];
    out[i] = v === undefined || v === null ? null : String(v);
  }
  return out;
}
