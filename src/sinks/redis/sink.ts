/**
 * Redis cache-invalidation sink (ioredis).
 *
 * Exactly-once: write() only plans (computes keys, validates, rejects poison) and queues the plan per
 * partition; commit(offsets) executes the queued plans of those partitions AND the new offsets
 * (hash `cdc:offsets:<group>`, field `<topic>:<partition>`) in ONE MULTI/EXEC, under WATCH of the
 * offsets hash: if the stored offsets are already at/after the new ones (an EXEC whose reply was
 * lost, or another process that took the partition over), nothing is executed twice. Either the
 * invalidations and the offsets are both durable, or neither.
 *
 * Redis can LOSE acknowledged writes: without `appendonly yes` + `appendfsync always` a kill -9 or
 * crash rolls it back to the last RDB snapshot (or to empty), offsets hash included. Invariant: the
 * stored offset of a partition never goes below what this process last stored or loaded for it
 * (`known`); commit() checks that under the same WATCH, and if it did go below (or vanished) it
 * throws OffsetsRegressedError instead of committing — the runner re-reads the stored offsets and
 * replays the lost range (from the earliest offset when the hash is gone; for a write-through cache
 * the compacted topic rebuilds it). Without the check the sink would keep writing from its in-memory
 * position and the rolled-back window would stay lost (deleted rows back, rows missing or stale).
 *
 * TRUNCATE is a watermark by position, never a wholesale delete (invariants in ./truncate.ts): it
 * removes only keys older than itself, its watermark lives in the offsets hash (same MULTI as its
 * effects), and writes older than a table's watermark are dropped under the same WATCH.
 *
 * Redis Cluster (out of scope now, not designed out): a MULTI may only touch keys of one hash slot.
 * Two ways: (a) templates with a hash tag so every key of a batch shares a slot (e.g.
 * "{users}:user:{id}" — then the offsets key would be "{users}:cdc:offsets:<group>"), or (b) split
 * each batch's plan by slot and run one MULTI per slot, each with its own per-slot offsets field
 * ("<topic>:<partition>:<slot>"); the partition's offset is then the minimum over its slots, and a
 * replay re-applies only slots whose offset is behind (all ops are idempotent or version-guarded).
 * Version keys would become "{<key>}:cdc:ver@<namespace>" so a row and its version share a slot.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { certificateVerifyFailure, nodeTlsOptions } from '../../spec/tls.js';
import type { Logger } from '../../observability/logger.js';
import { tlsFailure, type TruncateWatermarks } from '../kit/index.js';
import { OffsetsRegressedError, SinkError, type PartitionOffset, type RegressedPartition, type Sink, type SinkBatch, type TopicPartition, type WriteResult } from '../sink.js';
import { compileTables, planRecords, type CompiledTable, type RedisOp, type RowShape } from './plan.js';
import { generationKeyOf, inNamespace, valuesOnly, versionKeyIn } from './namespace.js';
import { DELETE_SCRIPT, WRITE_SCRIPT, legacyVersionKey } from './scripts.js';
import { belowWatermark, truncateField, TRUNCATE_SCRIPT, watermarks, watermarkTables } from './truncate.js';
import type { RedisSinkConfig } from './spec.js';

const field = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;
/**
 * Write-through tables' row shapes (./plan.ts RowShape) live in the hash `<offsets key>:shapes`, field
 * `<schema.table>` — next to the offsets hash, not in it (tools and tests read that hash as offsets
 * and truncate marks), and written in the same MULTI as the invalidation and the offsets.
 */
const shapesKey = (offsetsKey: string): string => `${offsetsKey}:shapes`;
const FATAL_REPLY = /\b(WRONGPASS|NOAUTH|NOPERM|invalid password|ERR AUTH)/;

export function redisOptions(config: RedisSinkConfig): { url: string | undefined; options: RedisOptions } {
  const options: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  };
  if (config.auth?.username !== undefined) options.username = config.auth.username;
  if (config.auth?.password !== undefined) options.password = config.auth.password;
  // A rediss:// URL alone makes ioredis use TLS with Node's defaults; the tls group replaces them.
  const tls = nodeTlsOptions(config.tls);
  if (tls) options.tls = tls;
  // ioredis lets the URL's parts win over the options: put `auth` into the URL so it overrides.
  let url = config.url;
  if (url !== undefined && config.auth !== undefined) {
    const u = new URL(url);
    if (config.auth.username !== undefined) u.username = encodeURIComponent(config.auth.username);
    if (config.auth.password !== undefined) u.password = encodeURIComponent(config.auth.password);
    url = u.toString();
  }
  return { url, options };
}

function wrap(e: unknown, what: string): SinkError {
  if (e instanceof SinkError) return e;
  const tls = tlsFailure(e, 'redis', what);
  if (tls) return tls;
  const message = e instanceof Error ? e.message : String(e);
  const fatal = FATAL_REPLY.test(message);
  return new SinkError(`redis ${what} failed: ${message}${fatal ? ' (check the sink\'s url and auth.username/auth.password)' : ''}`, { retriable: !fatal, cause: e });
}

export class RedisSink implements Sink {
  private readonly tables: Map<string, CompiledTable>;
  private cmd: Redis | undefined;
  private tx: Redis | undefined;
  /** Plans queued by write(), per partition and batch (first offset; a retried write replaces its plan), executed by commit(). */
  private readonly pending = new Map<string, Map<string, RedisOp[]>>();
  private chain: Promise<unknown> = Promise.resolve();
  private txEpoch = 0;
  /** Per partition field: the offset this process last stored (EXEC) or loaded — the floor the stored offset must not go below. */
  private readonly known = new Map<string, string>();
  /** Write-through tables' row shapes (loaded from the offsets hash on first sight; ./plan.ts). */
  private readonly shapes = new Map<string, RowShape>();
  /** ioredis reports AUTH failures as an 'error' event and then just "Connection is closed". */
  private lastConnectionError: Error | undefined;

  /** Namespace of this sink's version keys (./scripts.ts): its consumer group id through the plugin. */
  readonly versionNamespace: string;
  /**
   * Generations (docs/rebuild.md): the pointer key naming the key namespace of the live generation of
   * the write-through rows. Read under the WATCH of every commit that writes rows, so a commit lands
   * entirely in the generation the pointer names at its EXEC: a flip between WATCH and EXEC aborts it
   * and it is planned again into the new namespace.
   */
  readonly generationKey: string;
  /** `generation.namespace`: the instance building a generation writes its rows there, nothing else. */
  private readonly fixedNamespace: string | null;
  /** The namespace the last commit wrote to (informational stale counting in write()). */
  private namespace: string | null = null;

  constructor(
    private readonly config: RedisSinkConfig,
    readonly offsetsKey: string,
    private readonly logger: Logger,
    versionNamespace?: string,
  ) {
    this.tables = compileTables(config);
    this.versionNamespace = versionNamespace ?? offsetsKey;
    this.generationKey = generationKeyOf(config, this.versionNamespace);
    this.fixedNamespace = config['generation.namespace'] ?? null;
    this.namespace = this.fixedNamespace;
  }

  /**
   * The tx connection never queues or resends commands across a reconnect: a MULTI/EXEC replayed on a
   * new connection would run without the WATCH (and without the regression check) made on the old
   * one — after a Redis restart it would write offsets past the loss unnoticed. Its commands fail
   * instead (retriable) and the commit starts over with a fresh WATCH. `txEpoch` counts its
   * connections so a reconnect between WATCH and EXEC is caught too. (ioredis leaves commands that
   * were in flight at the drop pending forever when it does not resend them: `onTx` rejects them.)
   */
  private client(which: 'cmd' | 'tx'): Redis {
    const { url, options: base } = redisOptions(this.config);
    const options: RedisOptions = which === 'tx' ? { ...base, enableOfflineQueue: false, autoResendUnfulfilledCommands: false } : base;
    const c = url ? new Redis(url, options) : new Redis(options);
    if (which === 'tx') c.on('ready', () => this.txEpoch++);
    c.on('error', (e: Error) => {
      this.lastConnectionError = e;
      this.logger.debug({ err: e.message }, 'redis connection error');
    });
    return c;
  }

  async open(): Promise<void> {
    try {
      this.cmd ??= this.client('cmd');
      this.tx ??= this.client('tx');
      for (const c of [this.cmd, this.tx]) {
        if (c.status === 'wait') await c.connect();
        await c.ping();
      }
      if (this.fixedNamespace === null) this.namespace = await this.cmd.get(this.generationKey);
    } catch (e) {
      // The connection's own error says more than "Connection is closed": refused credentials, a certificate that does not verify.
      const last = this.lastConnectionError;
      const cause = last && (FATAL_REPLY.test(last.message) || certificateVerifyFailure(last)) ? last : undefined;
      throw wrap(cause ?? e, 'connect');
    }
  }

  async close(): Promise<void> {
    for (const c of [this.cmd, this.tx]) {
      if (c) await c.quit().catch(() => c.disconnect());
    }
    this.cmd = this.tx = undefined;
    this.pending.clear();
    this.known.clear();
  }

  private redis(which: 'cmd' | 'tx'): Redis {
    const c = which === 'cmd' ? this.cmd : this.tx;
    if (!c) throw new SinkError('redis sink used before open()', { retriable: false });
    return c;
  }

  async loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    if (partitions.length === 0) return [];
    // Plans queued for a partition but never committed (it was revoked mid-batch) are NOT dropped here:
    // a chunk of a partition that stays assigned may sit between write() and commit() right now. Running
    // such leftovers later is harmless — every op is idempotent or version-guarded.
    let values: (string | null)[];
    try {
      values = await this.redis('cmd').hmget(this.offsetsKey, ...partitions.map(field));
    } catch (e) {
      throw wrap(e, 'loadOffsets');
    }
    const out: PartitionOffset[] = [];
    partitions.forEach((tp, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) {
        out.push({ topic: tp.topic, partition: tp.partition, offset: v });
        this.known.set(field(tp), v);
      } else {
        this.known.delete(field(tp));
      }
    });
    return out;
  }

  async write(batch: SinkBatch): Promise<WriteResult> {
    await this.loadShapes(batch.records);
    const plan = planRecords(batch.records, this.tables, this.config['truncate.mode'], this.versionNamespace, this.shapes);
    const ops = this.fixedNamespace === null ? plan.ops : valuesOnly(plan.ops);
    const staleSkipped = await this.countStale(ops);
    const key = field(batch);
    const queued = this.pending.get(key) ?? new Map<string, RedisOp[]>();
    this.pending.set(key, queued);
    queued.set(batch.records[0]?.offset ?? '', ops);
    return { rejected: plan.rejected, staleSkipped };
  }

  /** Informational: versioned ops the store (or an earlier op of the batch) already supersedes. The guard itself is the Lua script. */
  private async countStale(planned: readonly RedisOp[]): Promise<number> {
    const ops = planned.map((o) => inNamespace(o, this.namespace));
    const versioned = ops.filter((o): o is Extract<RedisOp, { kind: 'write' | 'delete' }> => o.kind === 'write' || o.kind === 'delete');
    if (versioned.length === 0) return 0;
    const verKeys = [...new Set(versioned.map((o) => o.verKey))];
    const legacyOf = new Map(versioned.map((o) => [o.verKey, legacyVersionKey(o.key)]));
    let stored: (string | null)[];
    let marks: TruncateWatermarks<string>;
    try {
      // the namespaced version, else the legacy one (not yet migrated by a write; see ./scripts.ts)
      const both = await this.redis('cmd').mget(...verKeys, ...verKeys.map((k) => legacyOf.get(k)!));
      stored = verKeys.map((_, i) => both[i] ?? both[verKeys.length + i] ?? null);
      marks = watermarks(ops, await this.readWatermarks(this.redis('cmd'), watermarkTables(ops)));
    } catch (e) {
      throw wrap(e, 'version read');
    }
    const current = new Map<string, string>();
    verKeys.forEach((k, i) => {
      const v = stored[i];
      if (v) current.set(k, v);
    });
    let stale = 0;
    for (const o of versioned) {
      const cur = current.get(o.verKey);
      if (belowWatermark(o, marks)) stale++;
      else if (cur !== undefined && cur >= o.version) stale++;
      else current.set(o.verKey, o.version);
    }
    return stale;
  }

  /** The stored row shapes of the batch's write-through tables not known yet. */
  private async loadShapes(records: SinkBatch['records']): Promise<void> {
    const tables = new Set<string>();
    for (const r of records) {
      const name = r.source ? `${r.source.schema}.${r.source.table}` : null;
      if (name && !this.shapes.has(name) && this.tables.get(name)?.writeKey) tables.add(name);
    }
    if (tables.size === 0) return;
    const names = [...tables];
    let values: (string | null)[];
    try {
      values = await this.redis('cmd').hmget(shapesKey(this.offsetsKey), ...names);
    } catch (e) {
      throw wrap(e, 'row shape read');
    }
    names.forEach((t, i) => {
      const v = values[i];
      if (!v || this.shapes.has(t)) return;
      try {
        const parsed = JSON.parse(v) as RowShape;
        if (typeof parsed.columns === 'string' && typeof parsed.version === 'string') this.shapes.set(t, parsed);
      } catch {
        // unreadable: the table is seen afresh (its shape is stored again)
      }
    });
  }

  /** Stored truncate watermarks of these tables (table → version string). */
  private async readWatermarks(c: Redis, tables: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (tables.length === 0) return out;
    const values = await c.hmget(this.offsetsKey, ...tables.map(truncateField));
    tables.forEach((t, i) => {
      const v = values[i];
      if (v) out.set(t, v);
    });
    return out;
  }

  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    // One transaction at a time on the tx connection (WATCH is per connection).
    const run = this.chain.then(() => this.commitNow(offsets));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * INVARIANT R (src/sinks/sink.ts `OffsetStore`): stores exactly these offsets, backwards included;
   * plans queued for those partitions are dropped (they belong to the old position). Called by
   * `cdc-fanout reset-offsets` with the daemon stopped; the new values become this instance's floor.
   */
  resetOffsets(to: readonly PartitionOffset[]): Promise<void> {
    const run = this.chain.then(async () => {
      if (to.length === 0) return;
      try {
        await this.redis('cmd').hset(this.offsetsKey, ...to.flatMap((o) => [field(o), o.offset]));
      } catch (e) {
        throw wrap(e, 'reset offsets');
      }
      for (const o of to) {
        this.pending.delete(field(o));
        this.known.set(field(o), o.offset);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async commitNow(offsets: readonly PartitionOffset[]): Promise<void> {
    const fields = offsets.map(field);
    const queuedOps = offsets.flatMap((o) => [...(this.pending.get(field(o))?.values() ?? [])].flat());
    const markTables = watermarkTables(queuedOps);
    // Rows (and truncates of rows) go to the generation the pointer names at EXEC (WATCHed with the offsets).
    const followPointer = this.fixedNamespace === null && queuedOps.some((o) => o.kind === 'write' || o.kind === 'delete' || (o.kind === 'truncate' && o.valuePrefix !== null));
    const tx = this.redis('tx');
    try {
      for (let attempt = 0; ; attempt++) {
        // WATCH + read of the stored offsets and truncate watermarks in one round trip (same
        // connection, so the WATCH holds: a commit of another process in between aborts our EXEC).
        const epoch = this.txEpoch;
        const pipe = tx
          .pipeline()
          .watch(...(followPointer ? [this.offsetsKey, this.generationKey] : [this.offsetsKey]))
          .hmget(this.offsetsKey, ...(fields.length ? fields : ['-']), ...markTables.map(truncateField));
        if (followPointer) pipe.get(this.generationKey);
        const check = await this.onTx(pipe.exec());
        const checkErr = check?.find(([err]) => err)?.[0];
        if (!check || checkErr) throw checkErr ?? new Error('WATCH pipeline returned nothing');
        const read = check[1]![1] as (string | null)[];
        const ns = followPointer ? ((check[2]?.[1] as string | null | undefined) ?? null) : this.fixedNamespace;
        const stored = read.slice(0, fields.length);
        const regressed: RegressedPartition[] = [];
        offsets.forEach((o, i) => {
          const floor = this.known.get(fields[i]!);
          const now = stored[i] ?? null;
          if (floor !== undefined && (now === null || BigInt(now) < BigInt(floor))) regressed.push({ topic: o.topic, partition: o.partition, stored: now, expected: floor });
        });
        if (regressed.length > 0) {
          await this.onTx(tx.unwatch());
          throw await this.regressedError(regressed);
        }
        // INVARIANT M: a partition whose stored offset is at/after the new one is left alone — its
        // batch was applied before (an EXEC whose reply was lost, another owner went further) — and
        // its queued plans are not executed again. The other partitions of the call still move.
        const moving = offsets.filter((o, i) => stored[i] == null || BigInt(stored[i]!) < BigInt(o.offset));
        offsets.forEach((o, i) => {
          if (!moving.includes(o)) this.known.set(fields[i]!, stored[i]!);
        });
        if (moving.length === 0) {
          await this.onTx(tx.unwatch());
          if (fields.length > 0) this.logger.debug({ offsets }, 'offsets already stored; batch was applied before');
          break;
        }
        const ops = moving.flatMap((o) => [...(this.pending.get(field(o))?.values() ?? [])].flat());
        const storedMarks = new Map<string, string>();
        const markValues = read.slice(Math.max(fields.length, 1));
        markTables.forEach((t, i) => {
          const v = markValues[i];
          if (v) storedMarks.set(t, v);
        });
        const multi = tx.multi();
        await this.addOps(multi, ops.map((o) => inNamespace(o, ns)), storedMarks);
        const hset: string[] = [];
        moving.forEach((o) => hset.push(field(o), o.offset));
        multi.hset(this.offsetsKey, ...hset);
        // No await between this check and exec(): the EXEC goes out on the connection that holds the WATCH.
        if (this.txEpoch !== epoch || tx.status !== 'ready') throw new Error('connection re-established between WATCH and EXEC; the commit starts over');
        const result = await this.onTx(multi.exec());
        if (result === null) {
          if (attempt > 50) throw new Error('offsets hash kept changing under WATCH (another process committing the same partitions?)');
          continue; // WATCH tripped: re-check the stored offsets and retry
        }
        const failed = result.filter(([err]) => err);
        if (failed.length) this.logger.error({ errors: failed.map(([err]) => err?.message) }, 'redis commands failed inside the transaction (wrong key type?)');
        moving.forEach((o) => this.known.set(field(o), o.offset));
        if (followPointer) this.namespace = ns;
        break;
      }
    } catch (e) {
      if (e instanceof OffsetsRegressedError) {
        // The queued plans belong to the lost position; the replay plans them again.
        for (const r of e.partitions) {
          this.pending.delete(field(r));
          this.known.delete(field(r));
        }
        throw e;
      }
      await this.onTx(tx.unwatch()).catch(() => undefined);
      throw wrap(e, 'commit');
    }
    for (const f of fields) this.pending.delete(f);
  }

  /** The error for offsets that went backwards, naming the likely cause (Redis restarted without durable persistence). */
  /** Awaits a tx-connection reply, failing (retriable) if the connection closes first. */
  private onTx<T>(p: Promise<T>): Promise<T> {
    const tx = this.redis('tx');
    return new Promise<T>((resolve, reject) => {
      const onClose = (): void => reject(new Error('connection closed during the commit'));
      tx.once('close', onClose);
      p.then(
        (v) => {
          tx.off('close', onClose);
          resolve(v);
        },
        (e: unknown) => {
          tx.off('close', onClose);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private async regressedError(regressed: readonly RegressedPartition[]): Promise<OffsetsRegressedError> {
    let server = '';
    try {
      const info = await this.redis('cmd').info('server');
      const uptime = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
      const runId = /run_id:(\w+)/.exec(info)?.[1];
      if (uptime !== undefined) server = ` Redis uptime is ${uptime} s (run_id ${runId ?? '?'}).`;
    } catch {
      // informational only
    }
    const parts = regressed.map((r) => `${r.topic}/${r.partition}: stored ${r.stored ?? 'missing'}, last committed ${r.expected}`).join('; ');
    return new OffsetsRegressedError(
      `redis offsets hash "${this.offsetsKey}" went backwards (${parts}): Redis lost acknowledged writes — most likely it restarted ` +
        `without durable persistence (RDB only or none) or was flushed.${server} Replaying the lost range from Kafka. ` +
        'For a write-through cache set `appendonly yes` and `appendfsync always` on the Redis server.',
      regressed,
    );
  }

  /**
   * Queues the ops on the MULTI. Versioned ops older than their table's truncate watermark (stored,
   * or raised by a truncate among these ops) are dropped. A truncate SCANs its prefixes first
   * (outside the MULTI, after the WATCH) and adds the keys the earlier ops of this MULTI touch; the
   * TRUNCATE_SCRIPT then removes only those older than the truncate.
   */
  private async addOps(multi: ReturnType<Redis['multi']>, ops: readonly RedisOp[], storedMarks: ReadonlyMap<string, string>): Promise<void> {
    const marks = watermarks(ops, storedMarks);
    const effective: RedisOp[] = [];
    const truncateKeys = new Map<number, string[]>();
    for (const op of ops) {
      if ((op.kind === 'write' || op.kind === 'delete') && belowWatermark(op, marks)) continue;
      if (op.kind === 'truncate') {
        const prefixes = op.valuePrefix === null ? op.prefixes : [...op.prefixes, op.valuePrefix];
        const covered = (k: string): boolean => prefixes.some((p) => p !== '' && k.startsWith(p));
        const earlier = effective.flatMap((e) => (e.kind !== 'truncate' && e.kind !== 'shape' && covered(e.key) ? [e.key] : []));
        const scanned = await this.scanPrefixes(prefixes);
        truncateKeys.set(effective.length, [...new Set([...scanned, ...earlier])]);
      }
      effective.push(op);
    }
    const raised = [...marks.entries()].filter(([t, v]) => storedMarks.get(t) !== v);
    const unlinks = new Set<string>();
    const written = new Set<string>();
    const published = new Map<string, Map<string, string[]>>();
    const publish = (channel: string | null, table: string, key: string): void => {
      if (!channel) return;
      const byTable = published.get(channel) ?? new Map<string, string[]>();
      published.set(channel, byTable);
      byTable.set(table, [...(byTable.get(table) ?? []), key]);
    };
    effective.forEach((op, i) => {
      switch (op.kind) {
        case 'write':
          written.add(op.key);
          multi.eval(WRITE_SCRIPT, 3, op.key, op.verKey, legacyVersionKey(op.key), op.version, op.json, String(op.ttlMs), String(this.config['tombstone.ttl.ms']), ...op.toastColumns);
          break;
        case 'delete':
          multi.eval(DELETE_SCRIPT, 3, op.key, op.verKey, legacyVersionKey(op.key), op.version, String(this.config['tombstone.ttl.ms']));
          break;
        case 'unlink':
          unlinks.add(op.key);
          publish(op.channel, op.table, op.key);
          break;
        case 'truncate': {
          const keys = truncateKeys.get(i) ?? [];
          for (let j = 0; j < keys.length; j += 500) {
            const triples = keys.slice(j, j + 500).flatMap((k) => [k, versionKeyIn(op.namespace ?? null, this.versionNamespace, k), legacyVersionKey(k)]);
            multi.eval(TRUNCATE_SCRIPT, triples.length, ...triples, op.version);
          }
          for (const p of op.prefixes) publish(op.channel, op.table, `${p}*`);
          break;
        }
        case 'shape': {
          // the current shape (monotonic by version), not the one planned: partitions commit in any order
          const shape = this.shapes.get(op.table);
          if (shape) multi.hset(shapesKey(this.offsetsKey), op.table, JSON.stringify(shape));
          break;
        }
      }
    });
    for (const [table, version] of raised) multi.hset(this.offsetsKey, truncateField(table), version);
    const toUnlink = [...unlinks].filter((k) => !written.has(k));
    for (let j = 0; j < toUnlink.length; j += 1000) multi.unlink(...toUnlink.slice(j, j + 1000));
    for (const [channel, byTable] of published) {
      for (const [table, keys] of byTable) multi.publish(channel, JSON.stringify({ table, keys: [...new Set(keys)] }));
    }
  }

  private async scanPrefixes(prefixes: readonly string[]): Promise<string[]> {
    const found = new Set<string>();
    for (const prefix of prefixes) {
      if (!prefix) continue;
      const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
      let cursor = '0';
      do {
        const [next, keys] = await this.redis('cmd').scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) found.add(k);
      } while (cursor !== '0');
    }
    return [...found];
  }
}
