import { describe, expect, it } from 'vitest';
import { primaryFailoverProblems, standbyProblems, type StandbyHaSettings } from './ha-settings.js';

const good: StandbyHaSettings = {
  server: 'pg-b:5432',
  versionNum: 170005,
  walLevel: 'logical',
  hotStandbyFeedback: 'on',
  primarySlotName: 'standby1',
  primaryConninfo: 'host=pg-a port=5432 user=repl dbname=postgres',
  syncReplicationSlots: 'on',
};

describe('failover slot settings', () => {
  it('a primary on 17 with the standby slot in synchronized_standby_slots has no problem', () => {
    expect(primaryFailoverProblems({ versionNum: 170005, synchronizedStandbySlots: 'standby1', physicalSlots: [{ name: 'standby1', active: true }] })).toEqual([]);
  });

  it('names what is missing on the primary, with the fix', () => {
    const p = primaryFailoverProblems({ versionNum: 170005, synchronizedStandbySlots: '"gone"', physicalSlots: [] });
    expect(p.map((x) => x.severity)).toEqual(['error', 'error']);
    expect(p[0]!.message).toMatch(/no physical replication slot/);
    expect(p[1]!.message).toMatch(/synchronized_standby_slots names "gone", which is not a physical slot/);
    const empty = primaryFailoverProblems({ versionNum: 170005, synchronizedStandbySlots: '', physicalSlots: [{ name: 's1', active: false }] });
    expect(empty).toHaveLength(1);
    expect(empty[0]).toMatchObject({ severity: 'warning', fix: expect.stringContaining("synchronized_standby_slots = 's1'") });
    expect(primaryFailoverProblems({ versionNum: 170005, synchronizedStandbySlots: 's1', physicalSlots: [{ name: 's1', active: false }] })[0]!.message).toMatch(/no standby streaming from it/);
  });

  it('before 17: slot.failover is an error', () => {
    const p = primaryFailoverProblems({ versionNum: 160009, synchronizedStandbySlots: '', physicalSlots: [] });
    expect(p).toHaveLength(1);
    expect(p[0]!.message).toMatch(/needs PostgreSQL 17 or later \(the primary runs 16\)/);
  });

  it('a standby that syncs failover slots needs sync_replication_slots, hot_standby_feedback, primary_slot_name and a dbname', () => {
    expect(standbyProblems(good, 'failover')).toEqual([]);
    const bad = standbyProblems({ ...good, hotStandbyFeedback: 'off', primarySlotName: '', primaryConninfo: 'host=pg-a user=repl', syncReplicationSlots: 'off' }, 'failover');
    expect(bad.map((x) => x.message.replace(/^standby pg-b:5432 (has |streams )/, '').slice(0, 30))).toEqual([
      'hot_standby_feedback = off: th',
      'without a physical slot (prima',
      'sync_replication_slots = off: ',
      'no dbname in primary_conninfo:',
    ]);
    expect(bad.every((x) => x.severity === 'error' && x.fix.length > 0)).toBe(true);
    // primary_conninfo unreadable (not a superuser): not guessed.
    expect(standbyProblems({ ...good, primaryConninfo: '<insufficient privilege>' }, 'failover')).toEqual([]);
  });

  it('decoding on a standby needs 16+, wal_level logical and hot_standby_feedback', () => {
    expect(standbyProblems({ ...good, versionNum: 160009, syncReplicationSlots: null, primaryConninfo: 'host=a' }, 'decode')).toEqual([]);
    expect(standbyProblems({ ...good, versionNum: 150013 }, 'decode')[0]!.message).toMatch(/needs 16 or later/);
    expect(standbyProblems({ ...good, walLevel: 'replica', hotStandbyFeedback: 'off' }, 'decode').map((x) => x.severity)).toEqual(['error', 'error']);
  });
});
