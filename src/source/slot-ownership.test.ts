/** Start-up slot decisions (pure): ownership, adoption, take-over, gaps. */
import { describe, expect, it } from 'vitest';
import { parseLsn } from '../events/change.js';
import type { SlotOwnership, StoredOffset } from '../kafka/offsets-store.js';
import { SlotGapError, SlotOwnershipError, planSlot, type OwnershipInput, type SlotState } from './slot-ownership.js';

const slot = (over: Partial<SlotState> = {}): SlotState => ({
  exists: true,
  activePid: null,
  confirmedFlushLsn: parseLsn('0/1000'),
  restartLsn: parseLsn('0/F00'),
  walStatus: 'reserved',
  plugin: 'pgoutput',
  database: 'db',
  ...over,
});
const owner = (over: Partial<SlotOwnership> = {}): SlotOwnership => ({
  pipeline: 'p',
  slot: 's',
  system_id: '42',
  database: 'db',
  created_lsn: '0/800',
  created_at: '2026-01-01T00:00:00Z',
  how: 'created',
  ...over,
});
const stored = (lsn: string, flushed?: string): StoredOffset => ({ connector: 'p', last_commit_lsn: lsn, last_seq: 3, snapshot: null, ...(flushed ? { flushed_lsn: flushed } : {}) });
const input = (over: Partial<OwnershipInput> = {}): OwnershipInput => ({
  pipeline: 'p',
  slotName: 's',
  database: 'db',
  systemId: '42',
  snapshotMode: 'initial',
  takeover: false,
  dropOnStop: false,
  slot: slot(),
  stored: stored('0/1000'),
  owner: owner(),
  otherOwners: [],
  ...over,
});

describe('planSlot', () => {
  it('fresh pipeline, no slot: create', () => {
    expect(planSlot(input({ slot: slot({ exists: false }), stored: null, owner: null }))).toMatchObject({ kind: 'create', drop: false, resetOffsets: false });
  });

  it('owned slot at the stored position: use it', () => {
    expect(planSlot(input())).toMatchObject({ kind: 'use', record: null });
    // confirmed = stored + 1 is what confirming the stored LSN produces
    expect(planSlot(input({ slot: slot({ confirmedFlushLsn: parseLsn('0/1001') }) }))).toMatchObject({ kind: 'use' });
    // behind the stored position: fine, the stream drops what Kafka has
    expect(planSlot(input({ slot: slot({ confirmedFlushLsn: parseLsn('0/900') }) }))).toMatchObject({ kind: 'use' });
  });

  it('slot exists without any ownership record or offsets: refuses, naming the slot, pid, LSN and the ways forward', () => {
    const run = (): unknown => planSlot(input({ stored: null, owner: null, slot: slot({ confirmedFlushLsn: parseLsn('0/ABC') }) }));
    expect(run).toThrow(SlotOwnershipError);
    expect(run).toThrow(/"s" exists \(active pid none, confirmed_flush_lsn 0\/ABC\)/);
    expect(run).toThrow(/its own slot\.name.*`slot\.takeover: true`.*`cdc-fanout run --take-over-slot p`/);
  });

  it('names the other pipeline that claims the slot, and refuses to adopt even with offsets', () => {
    const other = owner({ pipeline: 'q' });
    expect(() => planSlot(input({ owner: null, otherOwners: [other] }))).toThrow(/belongs to pipeline "q"/);
  });

  it('an ownership record for another system or slot is not ownership', () => {
    expect(() => planSlot(input({ owner: owner({ system_id: '7' }) }))).toThrow(/database system 7/);
    expect(() => planSlot(input({ owner: owner({ slot: 'other' }) }))).toThrow(SlotOwnershipError);
  });

  it('legacy state (offsets, no record, nobody else claims it): adopt, logged, no gap check', () => {
    const p = planSlot(input({ owner: null, slot: slot({ confirmedFlushLsn: parseLsn('0/9000') }) }));
    expect(p).toMatchObject({ kind: 'use', record: 'adopted' });
    expect(p.notes.join(' ')).toMatch(/adopting/);
  });

  it('take-over: records ownership; with no offsets an owned slot is recreated for the snapshot', () => {
    expect(planSlot(input({ owner: null, stored: null, takeover: true }))).toMatchObject({ kind: 'create', drop: true, resetOffsets: false });
    expect(planSlot(input({ owner: null, stored: null, takeover: true, snapshotMode: 'never' }))).toMatchObject({ kind: 'use', record: 'taken_over' });
  });

  it('take-over does not hide a gap against this pipeline\'s own offsets', () => {
    expect(() => planSlot(input({ owner: owner({ pipeline: 'q' }), takeover: true, slot: slot({ confirmedFlushLsn: parseLsn('0/5000') }) }))).toThrow(SlotGapError);
  });

  it('owned, no offsets yet: recreate for the snapshot (only because it is ours)', () => {
    expect(planSlot(input({ stored: null }))).toMatchObject({ kind: 'create', drop: true });
  });

  it('owned slot confirmed past what was published: gap error; when_needed re-snapshots', () => {
    const ahead = slot({ confirmedFlushLsn: parseLsn('0/2000') });
    expect(() => planSlot(input({ slot: ahead }))).toThrow(/confirmed up to 0\/2000.*only published up to 0\/1000.*snapshot\.mode: when_needed/);
    expect(planSlot(input({ slot: ahead, snapshotMode: 'when_needed' }))).toMatchObject({ kind: 'create', drop: true, resetOffsets: true });
  });

  it('the idle watermark counts as published', () => {
    expect(planSlot(input({ slot: slot({ confirmedFlushLsn: parseLsn('0/2001') }), stored: stored('0/1000', '0/2000') }))).toMatchObject({ kind: 'use' });
  });

  it('missing slot although offsets exist: gap error naming the position; when_needed re-snapshots; drop.on.stop recreates', () => {
    const gone = slot({ exists: false });
    expect(() => planSlot(input({ slot: gone }))).toThrow(/does not exist.*up to 0\/1000.*failed over/);
    expect(planSlot(input({ slot: gone, snapshotMode: 'when_needed' }))).toMatchObject({ kind: 'create', drop: false, resetOffsets: true });
    expect(planSlot(input({ slot: gone, dropOnStop: true }))).toMatchObject({ kind: 'create', resetOffsets: false });
  });

  it('invalidated slot (wal_status lost): gap error with the remedy; when_needed drops it and re-snapshots', () => {
    const lost = slot({ walStatus: 'lost' });
    expect(() => planSlot(input({ slot: lost }))).toThrow(/wal_status = lost.*max_slot_wal_keep_size/);
    expect(planSlot(input({ slot: lost, snapshotMode: 'when_needed' }))).toMatchObject({ kind: 'create', drop: true, resetOffsets: true });
  });
});

describe('planSlot: the stored position must be in the server history (timelines)', () => {
  const server = (timeline: number, walEnd: string, switchPoints: Record<number, string> = {}): OwnershipInput['server'] => ({
    timeline,
    walEnd: parseLsn(walEnd),
    switchPoints: new Map(Object.entries(switchPoints).map(([k, v]) => [Number(k), parseLsn(v)])),
  });
  const on = (tli: number | undefined, lsn: string, flushed?: string): StoredOffset => ({ ...stored(lsn, flushed), ...(tli === undefined ? {} : { timeline: tli }) });

  it('same timeline, position below the WAL end: use the slot', () => {
    expect(planSlot(input({ stored: on(1, '0/1000'), server: server(1, '0/5000') }))).toMatchObject({ kind: 'use' });
  });

  it('promoted past the position (switch point at or above it): use the synced slot', () => {
    expect(planSlot(input({ stored: on(1, '0/1000'), server: server(2, '0/9000', { 1: '0/1000' }) }))).toMatchObject({ kind: 'use' });
    expect(planSlot(input({ stored: on(1, '0/1000'), server: server(3, '0/9000', { 1: '0/4000', 2: '0/8000' }) }))).toMatchObject({ kind: 'use' });
  });

  it('the old timeline went on past the switch point and the source published it: a gap naming both positions (and the re-snapshot with when_needed)', () => {
    const i = input({ stored: on(1, '0/323C580'), server: server(2, '0/3100000', { 1: '0/3029350' }) });
    expect(() => planSlot(i)).toThrow(SlotGapError);
    expect(() => planSlot(i)).toThrow(/up to 0\/323C580 on timeline 1, but this server left timeline 1 at 0\/3029350 .*now 2.*synchronized_standby_slots/);
    // The idle watermark counts as published too.
    expect(() => planSlot(input({ stored: on(1, '0/1000', '0/3100000'), server: server(2, '0/9000000', { 1: '0/3029350' }) }))).toThrow(SlotGapError);
    expect(planSlot({ ...i, snapshotMode: 'when_needed' })).toMatchObject({ kind: 'create', drop: true, resetOffsets: true });
  });

  it('a timeline that is not an ancestor, or a later one than the server: a gap', () => {
    expect(() => planSlot(input({ stored: on(2, '0/1000'), server: server(3, '0/9000', { 1: '0/800' }) }))).toThrow(/timeline 2, which is not in the history/);
    expect(() => planSlot(input({ stored: on(3, '0/1000'), server: server(2, '0/9000', { 1: '0/800' }) }))).toThrow(/on timeline 3, but this server is on timeline 2, an earlier one/);
  });

  it('a record without a timeline (older versions): a position beyond the server WAL end is a gap, one below it is not', () => {
    expect(() => planSlot(input({ stored: on(undefined, '0/6000'), server: server(2, '0/5000') }))).toThrow(/beyond this server's WAL end 0\/5000/);
    expect(planSlot(input({ stored: on(undefined, '0/4000'), server: server(2, '0/5000') }))).toMatchObject({ kind: 'use' });
    // confirmed = position + 1 is not beyond
    expect(planSlot(input({ stored: on(undefined, '0/5001'), server: server(1, '0/5000') }))).toMatchObject({ kind: 'use' });
  });
});
