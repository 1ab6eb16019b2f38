/**
 * Dead-letter topic of one sink (errors.tolerance=dlq): list what is in it, and replay it.
 *
 * Replay = the live path pointed at the DLQ topic. A SinkRunner consumes the DLQ topic (consumer
 * group "<group.id>.dlq-replay") with `replay` hooks: each DLQ message is decoded back into the
 * original record (origin topic/partition/offset from the `__connect.errors.*` headers, the event
 * position from the original `cdc.commit_lsn`/`cdc.seq` headers the DLQ producer keeps) and handed to
 * `sink.write` like a live record; the sink's version checks skip it when the store already holds a
 * newer change of the row (counted as stale). Invariants:
 *   R1. The replay position is the DLQ partition's offset in the SINK'S OWN offset store (same
 *       group as the live sink, topic = the DLQ topic), committed by `sink.commit` after/with the
 *       chunk's effects — exactly like a live partition. A crash mid-replay resumes from the last
 *       committed chunk; re-applied records are no-ops (versioned writes), nothing is skipped.
 *   R2. Everything below the replay position was applied, found stale, or is dead-lettered AGAIN at
 *       the DLQ topic's tail (records that fail again, and — with a table filter — records of other
 *       tables, with their original error). A replay reads only up to the DLQ's end offsets taken
 *       when it starts, so it never reads its own re-dead-lettered records: it ends, and a later
 *       replay (after another fix) tries them again.
 *   R3. Records of other sinks sharing the DLQ topic (`__connect.errors.connector.name`) are passed
 *       over: they are the other sink's to replay.
 * One replay per sink at a time: the daemon refuses a second one, and a replay refuses to start
 * while its consumer group has members.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaClient } from '../../kafka/client.js';
import { DLQ_HEADERS, DLQ_TRUNCATED_HEADER, type DlqSizeOptions } from '../../kafka/dlq-producer.js';
import type { Logger } from '../../observability/logger.js';
import type { PartitionOffset, RejectedRecord, Sink, SinkRecord } from '../sink.js';
import type { ResolvedSinkConfig } from './config.js';
import { decodeMessage, type DecodeResult, type RawMessage } from './decode.js';
import { SinkRunner, type ChunkOutcome } from './runner.js';

/** What a replay or listing needs about one configured sink; built by the daemon's sink adapter. */
export interface DlqTarget {
  readonly kafka: KafkaClient;
  readonly config: ResolvedSinkConfig;
  readonly pipeline: string;
  readonly topicPrefix: string;
  readonly logger: Logger;
  /** A fresh instance of the sink (same config and group as the live one); the caller of open() closes it. */
  createSink(): Sink;
  readonly dlqSize?: DlqSizeOptions;
  readonly sessionTimeoutMs?: number;
}

/** A request the user got wrong (unknown table, no DLQ configured, …): the message says how to fix it. */
export class DlqUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DlqUsageError';
  }
}

/** A record put back at the DLQ tail unchanged (table filter): it keeps its original error. */
class KeptDeadLetter extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export interface DlqRecordInfo {
  /** Offset in the DLQ topic: "<partition>@<offset>". */
  readonly dlq: string;
  /** Where the record came from: "<topic>/<partition>@<offset>". */
  readonly origin: string;
  readonly table: string;
  readonly error: string;
}

export interface DlqTableSummary {
  readonly table: string;
  /** This sink's records in the DLQ topic. */
  readonly total: number;
  /** Of those, at or after the replay position (what `dlq replay` would read). */
  readonly pending: number;
  /** The most frequent error messages of the pending records (at most 3). */
  readonly errors: readonly { readonly message: string; readonly count: number }[];
}

export interface DlqPartitionInfo {
  readonly partition: number;
  readonly earliest: string;
  readonly end: string;
  /** The sink's stored replay position (null: never replayed → replay starts at `earliest`). */
  readonly replayedTo: string | null;
}

export interface DlqListing {
  readonly pipeline: string;
  readonly sink: string;
  readonly dlqTopic: string;
  /** False when nothing was ever dead-lettered (the topic does not exist). */
  readonly exists: boolean;
  readonly total: number;
  readonly pending: number;
  readonly partitions: readonly DlqPartitionInfo[];
  readonly tables: readonly DlqTableSummary[];
  /** The first pending records (at most 10), oldest first. */
  readonly first: readonly DlqRecordInfo[];
}

export interface DlqReplayReport {
  readonly pipeline: string;
  readonly sink: string;
  readonly dlqTopic: string;
  readonly dryRun: boolean;
  readonly table: string | null;
  /** Per DLQ partition: the range read [from, to). */
  readonly partitions: readonly { readonly partition: number; readonly from: string; readonly to: string }[];
  /** DLQ messages read (all of the ranges). */
  readonly read: number;
  /** Records handed to the sink (dry run: that would be). */
  readonly replayed: number;
  /** Of those, applied (replayed − stale − failed again). */
  readonly applied: number;
  /** Skipped by the sink's version check: the sink already holds a newer change of the row. */
  readonly stale: number;
  /** Failed again: dead-lettered again at the DLQ tail with the new error. */
  readonly failedAgain: number;
  /** Records of other tables (table filter), put back at the DLQ tail unchanged. */
  readonly keptOtherTables: number;
  /** Records of other sinks sharing the DLQ topic, passed over. */
  readonly otherSinks: number;
  readonly tables: readonly { readonly table: string; readonly replayed: number; readonly failedAgain: number }[];
  /** The first records that failed again (at most 20). */
  readonly failures: readonly DlqRecordInfo[];
  /** True when the replay was stopped before reaching the end (daemon shutdown); rerun to continue. */
  readonly interrupted: boolean;
}

export interface ReplayRequest {
  /** Only this table ("schema.table"); the others stay dead-lettered. */
  readonly table?: string | undefined;
  /** Count what a replay would read; change nothing. */
  readonly dryRun?: boolean | undefined;
  /** Aborts a running replay (daemon shutdown): the committed part stays, a rerun continues. */
  readonly signal?: AbortSignal | undefined;
}

const header = (msg: RawMessage, name: string): string | undefined => {
  const h = msg.headers?.[name];
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
};

const tableOf = (r: SinkRecord): string => (r.source ? `${r.source.schema}.${r.source.table}` : r.topic);

/** Checks the sink can have a DLQ and the table filter names one of its tables. */
export function checkDlqRequest(t: DlqTarget, table: string | undefined): void {
  const c = t.config;
  if (c['errors.tolerance'] !== 'dlq') {
    throw new DlqUsageError(
      `sink "${c.name}" of pipeline "${t.pipeline}" has errors.tolerance: ${c['errors.tolerance']}, so it has no dead-letter topic; set errors.tolerance: dlq to dead-letter records it cannot apply (records skipped or stopped on before are not recoverable from a DLQ)`,
    );
  }
  if (table !== undefined) {
    if (!/^[^.\s]+\.[^.\s]+$/.test(table)) throw new DlqUsageError(`--table must be "schema.table", e.g. public.users; got "${table}"`);
    // Topics named "<topic.prefix>.<schema>.<table>" say which tables the sink consumes; a sink with
    // other topic names (routed topics, several tables per topic) may get any table.
    const tableOfTopic = (x: string): string | null => (x.startsWith(`${t.topicPrefix}.`) && /^[^.]+\.[^.]+$/.test(x.slice(t.topicPrefix.length + 1)) ? x.slice(t.topicPrefix.length + 1) : null);
    const tables = c.topicList.map(tableOfTopic);
    if (tables.every((x) => x !== null) && !tables.includes(table)) {
      throw new DlqUsageError(`sink "${c.name}" does not consume table "${table}" (its tables: ${tables.join(', ')})`);
    }
  }
}

/** DLQ message → the original record, with its origin coordinates and position; null when the headers are missing. */
function originalRecord(msg: RawMessage): DecodeResult | null {
  const topic = header(msg, DLQ_HEADERS.topic);
  const partition = Number(header(msg, DLQ_HEADERS.partition));
  const offset = header(msg, DLQ_HEADERS.offset);
  if (!topic || !Number.isSafeInteger(partition) || partition < 0 || !offset || !/^\d+$/.test(offset)) return null;
  const decoded = decodeMessage(topic, partition, { key: msg.key, value: msg.value, offset, headers: msg.headers ?? {} });
  const truncated = header(msg, DLQ_TRUNCATED_HEADER);
  if (!decoded.ok && truncated && /\b(value|key)\b/.test(truncated)) {
    const why = `the dead-letter copy of this record was truncated to fit the DLQ topic (${DLQ_TRUNCATED_HEADER}: ${truncated}), so it cannot be replayed; re-snapshot the row's table (cdc-fanout snapshot) — ${decoded.rejected.error.message}`;
    return { ok: false, rejected: { record: decoded.rejected.record, error: new Error(why) } };
  }
  return decoded;
}

/** End offsets of the DLQ topic's partitions (null: no topic) and the sink's stored replay positions. */
async function positions(t: DlqTarget): Promise<{ parts: { partition: number; low: string; high: string }[]; stored: Map<number, string> } | null> {
  const admin = t.kafka.admin();
  await admin.connect();
  let parts: { partition: number; low: string; high: string }[];
  try {
    if (!(await admin.listTopics()).includes(t.config.dlqTopic)) return null;
    parts = (await admin.fetchTopicOffsets(t.config.dlqTopic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
  } finally {
    await admin.disconnect();
  }
  const sink = t.createSink();
  await sink.open();
  let found: PartitionOffset[];
  try {
    found = await sink.loadOffsets(parts.map((p) => ({ topic: t.config.dlqTopic, partition: p.partition })));
  } finally {
    await sink.close();
  }
  return { parts: parts.sort((a, b) => a.partition - b.partition), stored: new Map(found.map((o) => [o.partition, o.offset])) };
}

/** Where a replay starts reading a partition: the stored position, never below the earliest offset still in Kafka. */
const startOf = (low: string, stored: string | undefined): bigint => (stored !== undefined && BigInt(stored) > BigInt(low) ? BigInt(stored) : BigInt(low));

/**
 * Reads [from, to) of every listed partition of `topic` with a throwaway consumer group (deleted
 * afterwards) and hands each message over; resolves once every range is read.
 */
async function scan(t: DlqTarget, ranges: ReadonlyMap<number, { from: bigint; to: bigint }>, each: (partition: number, msg: RawMessage) => void): Promise<void> {
  const todo = new Map([...ranges].filter(([, r]) => r.from < r.to));
  if (todo.size === 0) return;
  const groupId = `${t.config.groupId}.dlq-list.${randomUUID()}`;
  const consumer = t.kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  let finish!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    finish = res;
    fail = rej;
  });
  done.catch(() => undefined); // awaited below; a crash before that must not go unhandled
  consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
  let progressAt = Date.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [t.config.dlqTopic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        progressAt = Date.now();
        const r = todo.get(batch.partition);
        if (!r) return;
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (off < r.from || off >= r.to) continue;
          each(batch.partition, { key: m.key, value: m.value, offset: m.offset, headers: m.headers ?? {} });
        }
        if (BigInt(batch.lastOffset()) + 1n >= r.to) todo.delete(batch.partition);
        if (todo.size === 0) finish();
      },
    });
    for (const [partition, r] of todo) consumer.seek({ topic: t.config.dlqTopic, partition, offset: r.from.toString() });
    // Fails only when reading stops making progress (a large DLQ may take long to read).
    const timer = setInterval(() => {
      if (Date.now() - progressAt > 60_000) fail(new Error(`reading ${t.config.dlqTopic} made no progress for 60 s (partitions left: ${[...todo.keys()].join(', ')}); is Kafka reachable?`));
    }, 5_000);
    try {
      await done;
    } finally {
      clearInterval(timer);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = t.kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
}

/** Summary of the sink's DLQ: counts per table, pending (not replayed yet) and the first errors. Reads only. */
export async function listDlq(t: DlqTarget, opts: { table?: string | undefined } = {}): Promise<DlqListing> {
  checkDlqRequest(t, opts.table);
  const base = { pipeline: t.pipeline, sink: t.config.name, dlqTopic: t.config.dlqTopic };
  const pos = await positions(t);
  if (!pos) return { ...base, exists: false, total: 0, pending: 0, partitions: [], tables: [], first: [] };
  const ranges = new Map(pos.parts.map((p) => [p.partition, { from: BigInt(p.low), to: BigInt(p.high) }]));
  const tables = new Map<string, { total: number; pending: number; errors: Map<string, number> }>();
  const first: DlqRecordInfo[] = [];
  await scan(t, ranges, (partition, msg) => {
    const sink = header(msg, DLQ_HEADERS.sink);
    if (sink !== undefined && sink !== t.config.name) return;
    const decoded = originalRecord(msg);
    const record = decoded ? (decoded.ok ? decoded.record : decoded.rejected.record) : null;
    const table = record ? tableOf(record) : '(no origin headers)';
    if (opts.table !== undefined && table !== opts.table) return;
    const s = tables.get(table) ?? { total: 0, pending: 0, errors: new Map<string, number>() };
    tables.set(table, s);
    s.total++;
    const p = pos.parts.find((x) => x.partition === partition)!;
    if (BigInt(msg.offset) < startOf(p.low, pos.stored.get(partition))) return;
    s.pending++;
    // Bounded memory: messages may differ per record (they quote values); past 1000 distinct ones the rest are lumped together.
    let error = header(msg, DLQ_HEADERS.message) ?? '(no error header)';
    if (!s.errors.has(error) && s.errors.size >= 1000) error = '(other error messages)';
    s.errors.set(error, (s.errors.get(error) ?? 0) + 1);
    if (first.length < 10) first.push({ dlq: `${partition}@${msg.offset}`, origin: record ? `${record.topic}/${record.partition}@${record.offset}` : '?', table, error });
  });
  const summaries: DlqTableSummary[] = [...tables]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([table, s]) => ({
      table,
      total: s.total,
      pending: s.pending,
      errors: [...s.errors].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([message, count]) => ({ message, count })),
    }));
  return {
    ...base,
    exists: true,
    total: summaries.reduce((n, s) => n + s.total, 0),
    pending: summaries.reduce((n, s) => n + s.pending, 0),
    partitions: pos.parts.map((p) => ({ partition: p.partition, earliest: p.low, end: p.high, replayedTo: pos.stored.get(p.partition) ?? null })),
    tables: summaries,
    first,
  };
}

/** Replays the sink's DLQ from its stored replay position to the end taken at start (see the module comment). */
export async function replayDlq(t: DlqTarget, req: ReplayRequest = {}): Promise<DlqReplayReport> {
  checkDlqRequest(t, req.table);
  const dlqTopic = t.config.dlqTopic;
  const log = t.logger.child({ sink: t.config.name, dlqTopic });
  const counts = { read: 0, replayed: 0, applied: 0, stale: 0, failedAgain: 0, keptOtherTables: 0, otherSinks: 0 };
  const perTable = new Map<string, { replayed: number; failedAgain: number }>();
  const bump = (table: string, k: 'replayed' | 'failedAgain'): void => {
    const s = perTable.get(table) ?? { replayed: 0, failedAgain: 0 };
    perTable.set(table, s);
    s[k]++;
  };
  const failures: DlqRecordInfo[] = [];
  const report = (partitions: DlqReplayReport['partitions'], interrupted: boolean): DlqReplayReport => ({
    pipeline: t.pipeline,
    sink: t.config.name,
    dlqTopic,
    dryRun: req.dryRun === true,
    table: req.table ?? null,
    partitions,
    ...counts,
    tables: [...perTable].sort(([a], [b]) => a.localeCompare(b)).map(([table, s]) => ({ table, ...s })),
    failures,
    interrupted,
  });

  const pos = await positions(t);
  if (!pos) return report([], false);
  const until = new Map<number, bigint>();
  const ranges = new Map<number, { from: bigint; to: bigint }>();
  for (const p of pos.parts) {
    const from = startOf(p.low, pos.stored.get(p.partition));
    const to = BigInt(p.high);
    if (from < to) {
      until.set(p.partition, to);
      ranges.set(p.partition, { from, to });
    }
  }
  const partitions = [...ranges].map(([partition, r]) => ({ partition, from: r.from.toString(), to: r.to.toString() }));
  if (ranges.size === 0) return report(partitions, false);

  // What a DLQ message becomes; shared by the dry run and the replay so both decide alike.
  const classify = (msg: RawMessage): DecodeResult | { readonly ok: 'skip' } => {
    const sink = header(msg, DLQ_HEADERS.sink);
    if (sink !== undefined && sink !== t.config.name) return { ok: 'skip' };
    const decoded = originalRecord(msg);
    if (!decoded) {
      const error = new Error(`dead-letter record without origin headers (${DLQ_HEADERS.topic}, ${DLQ_HEADERS.partition}, ${DLQ_HEADERS.offset}): it was not written by cdc-fanout and cannot be replayed`);
      return { ok: false, rejected: { record: placeholder(dlqTopic, msg), error } };
    }
    const record = decoded.ok ? decoded.record : decoded.rejected.record;
    if (req.table !== undefined && tableOf(record) !== req.table) {
      const original = new KeptDeadLetter(header(msg, DLQ_HEADERS.className) ?? 'Error', header(msg, DLQ_HEADERS.message) ?? '');
      return { ok: false, rejected: { record, error: original } };
    }
    return decoded;
  };
  /** Counts one outcome; `sinkRejected` says whether a rejection came from the sink (else from decoding). */
  const count = (r: DecodeResult | { readonly ok: 'skip' }, dlq: string): void => {
    counts.read++;
    if (r.ok === 'skip') counts.otherSinks++;
    else if (r.ok) {
      counts.replayed++;
      bump(tableOf(r.record), 'replayed');
    } else if (r.rejected.error instanceof KeptDeadLetter) counts.keptOtherTables++;
    else noteFailure(r.rejected, dlq);
  };
  function noteFailure(r: RejectedRecord, dlq: string): void {
    counts.failedAgain++;
    bump(tableOf(r.record), 'failedAgain');
    if (failures.length < 20) failures.push({ dlq, origin: `${r.record.topic}/${r.record.partition}@${r.record.offset}`, table: tableOf(r.record), error: r.error.message });
  }

  if (req.dryRun) {
    // Nothing is written: every decodable record counts as replayed (the sink's staleness and
    // rejections are only known by writing).
    await scan(t, ranges, (partition, msg) => count(classify(msg), `${partition}@${msg.offset}`));
    return report(partitions, false);
  }

  const replayGroup = `${t.config.groupId}.dlq-replay`;
  const admin = t.kafka.admin();
  await admin.connect();
  try {
    // A member left by a replay that was killed stays until its session times out: wait that long
    // before calling it a replay that is still running.
    const deadline = Date.now() + (t.sessionTimeoutMs ?? 10_000) + 5_000;
    for (let waited = false; ; waited = true) {
      const [group] = (await admin.describeGroups([replayGroup])).groups;
      const members = group?.members.length ?? 0;
      if (members === 0) break;
      if (Date.now() > deadline) {
        throw new DlqUsageError(`a replay of sink "${t.config.name}" is already running (consumer group ${replayGroup} has ${members} member(s)); wait for it to finish`);
      }
      if (!waited) log.info({ group: replayGroup, members }, 'the replay consumer group has members (a replay running, or one that was killed whose session has not expired yet); waiting');
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await admin.disconnect();
  }

  log.info({ partitions }, 'replaying the dead-letter topic');
  const pending = new Set(until.keys());
  let settle!: (interrupted: boolean) => void;
  let failed!: (e: Error) => void;
  const finished = new Promise<boolean>((res, rej) => {
    settle = res;
    failed = rej;
  });
  // Counted when a chunk is committed (a chunk retried or re-read after a re-seek counts once).
  const decidedAt = new WeakMap<SinkRecord, string>();
  const runner = new SinkRunner({
    kafka: t.kafka,
    sink: t.createSink(),
    config: { ...t.config, groupId: replayGroup, topicList: [dlqTopic] },
    metricsSinkLabel: `${t.config.name}.dlq-replay`,
    pipeline: t.pipeline,
    logger: t.logger,
    ...(t.dlqSize ? { dlqSize: t.dlqSize } : {}),
    ...(t.sessionTimeoutMs ? { sessionTimeoutMs: t.sessionTimeoutMs } : {}),
    replay: {
      until,
      decode: (_topic, partition, msg) => {
        const r = classify(msg);
        if (r.ok === true) decidedAt.set(r.record, `${partition}@${msg.offset}`);
        else if (r.ok === false) decidedAt.set(r.rejected.record, `${partition}@${msg.offset}`);
        return r;
      },
      onPartitionDone: (partition) => {
        pending.delete(partition);
        if (pending.size === 0) settle(false);
      },
    },
    onCommitted: (chunk, outcome: ChunkOutcome) => {
      const inChunk = new Set(chunk.records);
      let sinkRejected = 0;
      for (let i = 0; i < outcome.skipped; i++) count({ ok: 'skip' }, '');
      for (const r of chunk.records) count({ ok: true, record: r }, '');
      for (const r of outcome.rejected) {
        const at = decidedAt.get(r.record) ?? `${chunk.partition}@?`;
        if (inChunk.has(r.record)) {
          // counted as replayed above; it failed in the sink
          sinkRejected++;
          noteFailure(r, at);
        } else count({ ok: false, rejected: r }, at);
      }
      counts.stale += outcome.staleSkipped;
      counts.applied += Math.max(0, chunk.records.length - sinkRejected - outcome.staleSkipped);
    },
  });
  finished.catch(() => undefined); // awaited below; a failure during start() must not go unhandled meanwhile
  runner.on('failed', (e: Error) => failed(e));
  const onAbort = (): void => {
    settle(true);
    void runner.stop(); // also ends a start() that is still retrying to open the sink
  };
  req.signal?.addEventListener('abort', onAbort, { once: true });
  let interrupted = false;
  try {
    if (req.signal?.aborted) return report(partitions, true);
    interrupted = await Promise.race([
      runner.start().then(
        () => finished,
        (e: unknown) => (req.signal?.aborted ? true : Promise.reject(e instanceof Error ? e : new Error(String(e)))),
      ),
      finished,
    ]);
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    await runner.stop();
  }
  const out = report(partitions, interrupted);
  log.info({ ...counts, interrupted }, interrupted ? 'dead-letter replay interrupted; a rerun continues from the stored position' : 'dead-letter replay finished');
  return out;
}

function placeholder(topic: string, msg: RawMessage): SinkRecord {
  return {
    topic,
    partition: -1,
    offset: msg.offset,
    key: null,
    op: null,
    before: null,
    after: null,
    source: null,
    position: { commitLsn: 0n, seq: 0 },
    raw: { key: msg.key, value: msg.value, ...(msg.headers ? { headers: msg.headers } : {}) },
  };
}
