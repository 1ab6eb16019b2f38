/**
 * The conformance suite every sink must pass (vitest). A sink's integration test calls
 * `describeSinkConformance(name, factory, options)` with a factory that builds the sink against the
 * real store, configured for the table `CONFORMANCE.table` (schema `public`, topic prefix
 * `CONFORMANCE.prefix`, key column `id`; columns id:int, name:text, bio:text (TOASTable), n:int).
 *
 * The suite drives the Sink protocol exactly like the runtime does — write(batch) then
 * commit(next offsets) — so sinks that defer their effects into commit() (Redis MULTI/EXEC) are
 * tested the same way as sinks that write in write().
 *
 * `readState(table)` maps the store back to rows keyed by `JSON.stringify(key)` (key = `{id}`), with
 * the sink's own metadata stripped; a deleted row is either absent or `null`. Sinks that keep no
 * row state (Redis in invalidate mode) pass `{ state: false }`: then only the protocol checks run
 * (offsets, tombstones, poison-free replays); their own tests cover what "gone" means for them.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import { OffsetsRegressedError, type PartitionOffset, type Sink, type SinkBatch, type SinkRecord, type WriteResult } from '../../src/sinks/sink.js';
import { nextOffset, pos, sinkBatch, sinkRecord, tombstoneRecord, topicFor, type ChangeSpec } from '../support/records.js';
import { testRng } from '../support/seed.js';
import { CONFORMANCE, STREAM, STREAM_END, batchAt, streamBatch, streamState, type ChildSinkSpec } from './conformance-stream.js';

export { CONFORMANCE, type ChildSinkSpec } from './conformance-stream.js';

export interface ConformanceHarness {
  /** An opened sink on the store. */
  readonly sink: Sink;
  /** A new, NOT yet opened sink instance on the same store and group (to prove offsets survive close/open). */
  newSink(): Sink;
  /** Rows of a table as the store holds them, keyed by JSON.stringify(key); deleted = absent or null. */
  readState(table: string): Promise<Map<string, Row | null>>;
  /** Remove every row and every stored offset of this harness (called before each test). */
  reset(): Promise<void>;
  /** Release clients (called once after the suite). */
  dispose?(): Promise<void>;
  /**
   * The same sink (same target, same offset store) as the test's `newSink`, built by a child process
   * through the sink's registered plugin — the kill -9 check runs it (test/sinks/conformance-child.ts).
   */
  readonly child: ChildSinkSpec;
}

export interface ConformanceOptions {
  /** The sink keeps row state that readState can show (default true). False for invalidate-only sinks. */
  readonly state?: boolean;
  /** What the factory configured the sink to do with a truncate event (default 'delete'). */
  readonly truncate?: 'delete' | 'ignore';
  /** write() reports stale (older-version) writes in `staleSkipped` (default true). */
  readonly countsStale?: boolean;
  /**
   * A truncate removes a row inserted EARLIER in its own transaction even when that row's partition
   * was applied before the truncate (default true). Elasticsearch keeps no in-transaction order in
   * its documents and documents this as a known limit.
   */
  readonly truncateSameTxBefore?: boolean;
  /**
   * commit() throws OffsetsRegressedError when the stored offsets went behind what the sink last
   * stored or loaded (the store lost writes) — default false (the sink leaves that undetected).
   */
  readonly detectsRegression?: boolean;
}

type Spec = Omit<ChangeSpec, 'table' | 'prefix' | 'schema'>;

function rec(spec: Spec): SinkRecord {
  return sinkRecord({ ...spec, table: CONFORMANCE.table, schema: CONFORMANCE.schema, prefix: CONFORMANCE.prefix });
}

const k = (id: number): string => JSON.stringify({ id });
const row = (id: number, name: string, extra: Partial<Row> = {}): Row => ({ id, name, bio: `bio of ${id}`, n: id * 10, ...extra });

export function describeSinkConformance(name: string, factory: () => Promise<ConformanceHarness>, options: ConformanceOptions = {}): void {
  const withState = options.state ?? true;
  const truncate = options.truncate ?? 'delete';
  const countsStale = options.countsStale ?? true;
  const sameTxBefore = options.truncateSameTxBefore ?? true;
  const detectsRegression = options.detectsRegression ?? false;
  /** Every partition the tests commit to (reset() wipes their offsets). */
  const allPartitions = [0, 1, 2, 3].map((partition) => ({ topic: CONFORMANCE.topic, partition })).concat([{ topic: topicFor('conf_other', CONFORMANCE.schema, CONFORMANCE.prefix), partition: 0 }]);

  describe(`sink conformance: ${name}`, () => {
    let h: ConformanceHarness;
    let sink: Sink;
    let nextFirst = 0;

    /** write + commit, as the runtime does; consecutive offsets across calls unless `firstOffset` given. */
    async function apply(records: readonly SinkRecord[], firstOffset?: number): Promise<WriteResult & { batch: SinkBatch }> {
      const batch = sinkBatch(records, { topic: CONFORMANCE.topic, partition: 0, firstOffset: firstOffset ?? nextFirst });
      const result = await sink.write(batch);
      await sink.commit([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(batch) }]);
      nextFirst = Number(nextOffset(batch));
      return { ...result, batch };
    }

    /** Next offset per partition > 0 (partition 0 uses `apply`'s counter). */
    const partitionOffsets = new Map<number, number>();
    /** write + commit of a batch on another partition of the conformance topic. */
    async function applyAt(partition: number, records: readonly SinkRecord[]): Promise<WriteResult> {
      if (partition === 0) return apply(records);
      const batch = sinkBatch(records, { topic: CONFORMANCE.topic, partition, firstOffset: partitionOffsets.get(partition) ?? 0 });
      const result = await sink.write(batch);
      await sink.commit([{ topic: batch.topic, partition, offset: nextOffset(batch) }]);
      partitionOffsets.set(partition, Number(nextOffset(batch)));
      return result;
    }
    const truncateAt = (position: ReturnType<typeof pos>): SinkRecord => rec({ op: 't', before: null, after: null, key: null, position });

    const state = (): Promise<Map<string, Row | null>> => h.readState(CONFORMANCE.table);
    const live = async (): Promise<Map<string, Row>> => {
      const out = new Map<string, Row>();
      for (const [key, value] of await state()) if (value) out.set(key, value);
      return out;
    };

    beforeAll(async () => {
      h = await factory();
      sink = h.sink;
    });
    afterAll(async () => {
      await sink?.close();
      await h?.dispose?.();
    });
    beforeEach(async () => {
      await h.reset();
      // Like the runtime on assignment: load the (now empty) offsets before committing. A sink may
      // take offsets that went backwards WITHOUT a reload for lost writes (detectsRegression).
      await sink.loadOffsets(allPartitions);
      nextFirst = 0;
      partitionOffsets.clear();
    });

    it.runIf(withState)('applies insert, update and delete', async () => {
      const r = await apply([
        rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) }),
        rec({ op: 'c', after: row(2, 'b'), position: pos(100, 1) }),
        rec({ op: 'u', before: row(1, 'a'), after: row(1, 'a2'), position: pos(200, 0) }),
        rec({ op: 'd', before: row(2, 'b'), after: null, position: pos(300, 0) }),
      ]);
      expect(r.rejected).toEqual([]);
      const s = await live();
      expect([...s.keys()]).toEqual([k(1)]);
      expect(s.get(k(1))).toEqual(row(1, 'a2'));
    });

    it.runIf(withState)('treats snapshot reads (op r) as upserts', async () => {
      await apply([rec({ op: 'r', after: row(5, 'snap'), position: pos(50, 0) })]);
      expect((await live()).get(k(5))).toEqual(row(5, 'snap'));
    });

    it.runIf(withState)('moves a row on a primary-key update (delete at the old key, create at the new one)', async () => {
      await apply([rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) })]);
      // Debezium emits a PK change as: delete(old key), tombstone(old key), create(new key).
      await apply([
        rec({ op: 'd', before: row(1, 'a'), after: null, position: pos(200, 0) }),
        tombstoneRecord(CONFORMANCE.table, { id: 1 }, pos(200, 0)),
        rec({ op: 'c', before: null, after: row(11, 'a'), position: pos(200, 1) }),
      ]);
      const s = await live();
      expect(s.has(k(1))).toBe(false);
      expect(s.get(k(11))).toEqual(row(11, 'a'));
    });

    it('accepts the same batch twice (replay) without rejecting anything' + (withState ? ', state unchanged' : ''), async () => {
      const records = [
        rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) }),
        rec({ op: 'u', before: row(1, 'a'), after: row(1, 'b'), position: pos(100, 1) }),
        rec({ op: 'c', after: row(2, 'x'), position: pos(200, 0) }),
        rec({ op: 'd', before: row(2, 'x'), after: null, position: pos(300, 0) }),
        rec({ op: 'c', after: row(3, 'y'), position: pos(300, 1) }),
      ];
      const first = await apply(records, 0);
      expect(first.rejected).toEqual([]);
      const after1 = withState ? await live() : undefined;
      const second = await apply(records, 0);
      expect(second.rejected).toEqual([]);
      if (withState) {
        const after2 = await live();
        expect(after2).toEqual(after1);
        expect(after2.get(k(1))).toEqual(row(1, 'b'));
        expect(after2.has(k(2))).toBe(false);
        expect(after2.get(k(3))).toEqual(row(3, 'y'));
      }
    });

    it.runIf(withState)('never rolls a row back when an older event arrives after a newer one', async () => {
      await apply([rec({ op: 'c', after: row(1, 'new'), position: pos(500, 0) })]);
      const late = await apply([
        rec({ op: 'u', before: row(1, 'x'), after: row(1, 'old'), position: pos(400, 0) }),
        rec({ op: 'c', after: row(2, 'gone?'), position: pos(100, 0) }),
      ]);
      // an older delete must not remove a newer row either
      const lateDelete = await apply([rec({ op: 'd', before: row(1, 'old'), after: null, position: pos(450, 3) })]);
      expect(late.rejected).toEqual([]);
      expect(lateDelete.rejected).toEqual([]);
      const s = await live();
      expect(s.get(k(1))).toEqual(row(1, 'new'));
      if (countsStale) expect(late.staleSkipped + lateDelete.staleSkipped).toBeGreaterThanOrEqual(2);
    });

    it.runIf(withState)('never resurrects a deleted row with an older write', async () => {
      await apply([
        rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) }),
        rec({ op: 'd', before: row(1, 'a'), after: null, position: pos(200, 0) }),
      ]);
      await apply([rec({ op: 'u', before: row(1, 'a'), after: row(1, 'zombie'), position: pos(150, 0) })]);
      expect((await live()).has(k(1))).toBe(false);
    });

    it.runIf(withState)('applies equal versions of one transaction in order (within and across batches)', async () => {
      await apply([
        rec({ op: 'c', after: row(1, 'a'), position: pos(700, 0) }),
        rec({ op: 'u', before: row(1, 'a'), after: row(1, 'b'), position: pos(700, 1) }),
        rec({ op: 'u', before: row(1, 'b'), after: row(1, 'c'), position: pos(700, 2) }),
      ]);
      expect((await live()).get(k(1))).toEqual(row(1, 'c'));
      await apply([rec({ op: 'u', before: row(1, 'c'), after: row(1, 'd'), position: pos(700, 3) })]);
      expect((await live()).get(k(1))).toEqual(row(1, 'd'));
    });

    it.runIf(withState)('keeps the stored value for an unchanged-TOAST placeholder', async () => {
      await apply([rec({ op: 'c', after: row(1, 'a', { bio: 'a very long text' }), position: pos(100, 0) })]);
      await apply([
        rec({ op: 'u', before: null, after: row(1, 'renamed', { bio: UNAVAILABLE_VALUE }), position: pos(200, 0) }),
      ]);
      const stored = (await live()).get(k(1));
      expect(stored).toEqual(row(1, 'renamed', { bio: 'a very long text' }));
      expect(JSON.stringify(stored)).not.toContain(UNAVAILABLE_VALUE);
    });

    it.runIf(withState)(`handles truncate (${truncate})`, async () => {
      await apply([
        rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) }),
        rec({ op: 'c', after: row(2, 'b'), position: pos(100, 1) }),
      ]);
      const r = await apply([rec({ op: 't', before: null, after: null, key: null, position: pos(200, 0) })]);
      expect(r.rejected).toEqual([]);
      const s = await live();
      if (truncate === 'delete') expect(s.size).toBe(0);
      else expect([...s.keys()].sort()).toEqual([k(1), k(2)]);
      // rows written after the truncate are kept
      await apply([rec({ op: 'c', after: row(3, 'c'), position: pos(300, 0) })]);
      expect((await live()).get(k(3))).toEqual(row(3, 'c'));
    });

    // A truncate event has no key: it lands on partition 0 while the table's other changes spread over
    // every partition, which the runtime applies in any order. The truncate must act like a watermark
    // at its position, whatever was applied before or after it.
    it.runIf(withState && truncate === 'delete')('orders a truncate by position against changes applied from other partitions, before and after it, across a restart', async () => {
      await applyAt(0, [rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) }), rec({ op: 'c', after: row(2, 'b'), position: pos(100, 1) })]);
      // partition 1 is ahead: an older row, then rows committed after the truncate (later in its own
      // transaction at 200, and in later transactions) are applied BEFORE the truncate
      await applyAt(1, [
        rec({ op: 'c', after: row(3, 'old'), position: pos(150, 0) }),
        rec({ op: 'c', after: row(4, 'same tx, after the truncate'), position: pos(200, 2) }),
        rec({ op: 'c', after: row(5, 'later tx'), position: pos(300, 0) }),
        rec({ op: 'u', before: row(3, 'old'), after: row(3, 'again'), position: pos(310, 0) }),
      ]);
      const t = await applyAt(0, [truncateAt(pos(200, 1))]);
      expect(t.rejected).toEqual([]);
      expect([...(await live()).keys()].sort()).toEqual([k(3), k(4), k(5)]);
      // the watermark is durable: a new sink instance (restart) drops changes committed before the
      // truncate that a lagging partition delivers only now
      await sink.close();
      sink = h.newSink();
      await sink.open();
      const late = await applyAt(2, [
        rec({ op: 'c', after: row(6, 'older than the truncate'), position: pos(180, 0) }),
        rec({ op: 'c', after: row(7, 'same tx, before the truncate'), position: pos(200, 0) }),
        rec({ op: 'u', before: row(5, 'later tx'), after: row(5, 'v2'), position: pos(320, 0) }),
      ]);
      expect(late.rejected).toEqual([]);
      if (countsStale) expect(late.staleSkipped).toBeGreaterThanOrEqual(2);
      const s = await live();
      expect([...s.keys()].sort()).toEqual([k(3), k(4), k(5)]);
      expect(s.get(k(3))).toEqual(row(3, 'again'));
      expect(s.get(k(4))).toEqual(row(4, 'same tx, after the truncate'));
      expect(s.get(k(5))).toEqual(row(5, 'v2'));
    });

    it.runIf(withState && truncate === 'delete' && sameTxBefore)('removes a row inserted earlier in the truncate\'s own transaction even when its partition was applied first', async () => {
      await applyAt(1, [rec({ op: 'c', after: row(8, 'same tx, before the truncate'), position: pos(200, 0) }), rec({ op: 'c', after: row(9, 'same tx, after'), position: pos(200, 2) })]);
      await applyAt(0, [truncateAt(pos(200, 1))]);
      expect([...(await live()).keys()]).toEqual([k(9)]);
    });

    it('ignores tombstones (null values)', async () => {
      if (withState) await apply([rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) })]);
      const r = await apply([tombstoneRecord(CONFORMANCE.table, { id: 1 }, pos(150, 0)), tombstoneRecord(CONFORMANCE.table, { id: 9 }, pos(150, 1))]);
      expect(r.rejected).toEqual([]);
      if (withState) expect((await live()).get(k(1))).toEqual(row(1, 'a'));
    });

    it('stores offsets per partition that survive close and re-open', async () => {
      const other = topicFor('conf_other', CONFORMANCE.schema, CONFORMANCE.prefix);
      const parts = [
        { topic: CONFORMANCE.topic, partition: 0 },
        { topic: CONFORMANCE.topic, partition: 1 },
        { topic: CONFORMANCE.topic, partition: 2 },
        { topic: other, partition: 0 },
      ];
      expect(await sink.loadOffsets(parts)).toEqual([]);
      await sink.commit([
        { topic: CONFORMANCE.topic, partition: 0, offset: '5' },
        { topic: CONFORMANCE.topic, partition: 2, offset: '1234567890123' },
      ]);
      await sink.commit([{ topic: other, partition: 0, offset: '42' }]);
      await sink.commit([{ topic: CONFORMANCE.topic, partition: 0, offset: '9' }]);
      const expected = [
        { topic: CONFORMANCE.topic, partition: 0, offset: '9' },
        { topic: CONFORMANCE.topic, partition: 2, offset: '1234567890123' },
        { topic: other, partition: 0, offset: '42' },
      ];
      expect(sortTp(await sink.loadOffsets(parts))).toEqual(sortTp(expected));

      await sink.close();
      sink = h.newSink();
      await sink.open();
      expect(sortTp(await sink.loadOffsets(parts))).toEqual(sortTp(expected));
    });

    const sortTp = <T extends { topic: string; partition: number }>(xs: T[]): T[] => [...xs].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const tp = (partition: number, offset?: number): PartitionOffset => ({ topic: CONFORMANCE.topic, partition, offset: String(offset ?? 0) });

    // OffsetStore invariant M (src/sinks/sink.ts): a commit below the stored offset is IGNORED — the
    // call succeeds, the partition keeps its offset, the other partitions of the call still move.
    it('commits offsets monotonically: an older (or equal) offset is ignored per partition, by this and by a new instance', async () => {
      const parts = [tp(0), tp(1)].map(({ topic, partition }) => ({ topic, partition }));
      await sink.commit([tp(0, 9), tp(1, 4)]);
      await sink.commit([tp(0, 5), tp(1, 7)]);
      expect(sortTp(await sink.loadOffsets(parts))).toEqual([tp(0, 9), tp(1, 7)]);
      await sink.commit([tp(0, 9)]);
      await sink.commit([tp(1, 0)]);
      expect(sortTp(await sink.loadOffsets(parts))).toEqual([tp(0, 9), tp(1, 7)]);
      // a new instance (restart, rebalance), after loading as the runtime does on assignment
      await sink.close();
      sink = h.newSink();
      await sink.open();
      expect(sortTp(await sink.loadOffsets(parts))).toEqual([tp(0, 9), tp(1, 7)]);
      await sink.commit([tp(0, 3), tp(1, 8)]);
      expect(sortTp(await sink.loadOffsets(parts))).toEqual([tp(0, 9), tp(1, 8)]);
    });

    // OffsetStore invariant R: reset is the one way back (cdc-fanout reset-offsets: a fresh instance,
    // daemon stopped); re-delivery from the reset offset re-applies to the same end state.
    it('resets offsets backwards and forwards through resetOffsets; re-delivery from the reset offset ends in the same state', async () => {
      const batches = [0, 1, 2].map(streamBatch);
      for (const b of batches) {
        expect((await sink.write(b)).rejected).toEqual([]);
        await sink.commit([tp(0, Number(nextOffset(b)))]);
      }
      const end = Number(nextOffset(batches[2]!));
      await sink.commit([tp(1, 50)]);
      const expected = withState ? await live() : undefined;
      if (expected) expect(expected).toEqual(streamState(end));
      await sink.close();
      // like the CLI: a new instance, open, reset, close
      const cli = h.newSink();
      await cli.open();
      await cli.resetOffsets([tp(0, 0)]);
      expect(sortTp(await cli.loadOffsets([tp(0), tp(1)]))).toEqual([tp(0, 0), tp(1, 50)]);
      await cli.close();
      sink = h.newSink();
      await sink.open();
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([tp(0, 0)]);
      // the runtime re-delivers from offset 0: the same records at the same offsets
      for (const b of batches) {
        expect((await sink.write(b)).rejected).toEqual([]);
        await sink.commit([tp(0, Number(nextOffset(b)))]);
      }
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([tp(0, end)]);
      if (expected) expect(await live()).toEqual(expected);
      // forwards (reset-offsets --to latest), then a late commit below it is ignored (M)
      await sink.resetOffsets([tp(0, end + 1000)]);
      await sink.commit([tp(0, end + 1)]);
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([tp(0, end + 1000)]);
    });

    // OffsetStore invariant A: an offset is stored only with or after the effects before it. A child
    // process applies the stream and is killed (SIGKILL) at random moments, mid-batch; after each kill
    // every record below the stored offset must have its effect, and a final run from the stored
    // offset must end in the state of the whole stream with the offset at its end.
    it('keeps effects and offsets together under kill -9 mid-batch (offset never ahead of the effects); the replay ends in the full state', { timeout: 300_000 }, async () => {
      const random = testRng(`conformance ${name}: kill -9`);
      await sink.close();
      const run = (killAt?: { batch: number; delayMs: number }): Promise<{ killed: boolean }> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'test/sinks/conformance-child.ts'], {
            env: { ...process.env, CHILD_SINK: JSON.stringify(h.child) },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stderr = '';
          let killed = false;
          child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
          child.stdout.on('data', (d: Buffer) => {
            const m = /writing (\d+)/.exec(d.toString().trim().split('\n').pop() ?? '');
            if (killAt && !killed && m && Number(m[1]) >= killAt.batch) {
              killed = true;
              setTimeout(() => child.kill('SIGKILL'), killAt.delayMs);
            }
          });
          child.on('exit', (code, signal) => {
            if (signal === 'SIGKILL' && killed) resolve({ killed: true });
            else if (code === 0) resolve({ killed: false });
            else reject(new Error(`conformance child exited with ${code ?? signal}: ${stderr.slice(-2000)}`));
          });
        });
      const stored = async (): Promise<number> => {
        const s = h.newSink();
        await s.open();
        try {
          const [o] = await s.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }]);
          return Number(o?.offset ?? 0);
        } finally {
          await s.close();
        }
      };
      let midStream = 0;
      let maxDelayMs = 150;
      try {
        for (let cycle = 0; cycle < 10 && midStream < 3; cycle++) {
          const from = batchAt(await stored());
          const killAt = { batch: from + 1 + Math.floor(random.next() * 2), delayMs: Math.floor(random.next() * maxDelayMs) };
          if (killAt.batch >= STREAM.batches) {
            await h.reset();
            continue;
          }
          const { killed } = await run(killAt);
          const at = await stored();
          if (killed && at < STREAM_END) midStream++;
          // INVARIANT A: everything below the stored offset is in the target (effects may be ahead)
          if (withState) {
            const state = await live();
            const missing = [...streamState(at).keys()].filter((key) => !state.has(key));
            expect(missing, `rows below the stored offset ${at} missing after kill -9 (cycle ${cycle})`).toEqual([]);
          }
          if (at === STREAM_END) {
            // the child was faster than the kill (an invalidate-only sink has little to do): start over, kill sooner
            maxDelayMs = Math.max(1, Math.floor(maxDelayMs / 4));
            await h.reset();
          }
        }
        expect(midStream, 'kills that left the stream unfinished').toBeGreaterThan(0);
        expect((await run()).killed).toBe(false);
        expect(await stored()).toBe(STREAM_END);
        if (withState) expect(await live()).toEqual(streamState(STREAM_END));
      } finally {
        sink = h.newSink();
        await sink.open();
      }
    });

    it.runIf(detectsRegression)('reports stored offsets that went backwards (store wiped under it) instead of committing past the loss', async () => {
      await apply([rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) })], 10);
      await h.reset(); // the store loses the row and the offset; the sink is not told
      const batch = sinkBatch([rec({ op: 'c', after: row(2, 'b'), position: pos(101, 0) })], { topic: CONFORMANCE.topic, partition: 0, firstOffset: 11 });
      await sink.write(batch);
      const err = await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(OffsetsRegressedError);
      expect((err as OffsetsRegressedError).partitions).toEqual([{ topic: CONFORMANCE.topic, partition: 0, stored: null, expected: '11' }]);
      // Nothing committed past the loss; this load is also the reload the runtime does before replaying.
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([]);
      await apply([rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) })], 10);
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([{ topic: CONFORMANCE.topic, partition: 0, offset: '11' }]);
    });

    it.runIf(withState)('stores the batch effects together with its offsets', async () => {
      const r = await apply([rec({ op: 'c', after: row(1, 'a'), position: pos(100, 0) })], 40);
      expect(nextOffset(r.batch)).toBe('41');
      expect(await sink.loadOffsets([{ topic: CONFORMANCE.topic, partition: 0 }])).toEqual([{ topic: CONFORMANCE.topic, partition: 0, offset: '41' }]);
      expect((await live()).get(k(1))).toEqual(row(1, 'a'));
    });
  });
}
