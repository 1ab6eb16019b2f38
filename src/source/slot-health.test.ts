/** Slot health figures from polls (pure). */
import { describe, expect, it } from 'vitest';
import type { SlotSample } from './connection.js';
import { SlotHealthTracker } from './slot-health.js';

const sample = (current: bigint, confirmed: bigint | null, over: Partial<SlotSample> = {}): SlotSample => ({
  exists: true,
  activePid: 1,
  confirmedFlushLsn: confirmed,
  restartLsn: confirmed === null ? null : confirmed - 100n,
  walStatus: 'reserved',
  safeWalSize: null,
  plugin: 'pgoutput',
  database: 'db',
  currentWalLsn: current,
  ...over,
});

describe('SlotHealthTracker', () => {
  it('lag bytes and retained bytes against the current WAL position', () => {
    const t = new SlotHealthTracker('s', { lagWarnBytes: 0, lagWarnMs: 0 });
    const { health, fatal } = t.observe(sample(5000n, 4000n), 0);
    expect(health).toMatchObject({ lagBytes: 1000, retainedBytes: 1100, confirmedFlushLsn: '0/FA0', currentWalLsn: '0/1388' });
    expect(fatal).toBeNull();
  });

  it('lag ms = time since the server had written what the slot confirmed', () => {
    const t = new SlotHealthTracker('s', { lagWarnBytes: 0, lagWarnMs: 0 });
    expect(t.observe(sample(1000n, 1000n), 0).health.lagMs).toBe(0);
    expect(t.observe(sample(2000n, 1000n), 10_000).health.lagMs).toBe(10_000); // confirmed = what was written at t=0
    expect(t.observe(sample(3000n, 2000n), 20_000).health.lagMs).toBe(10_000); // confirmed = what was written at t=10s
    expect(t.observe(sample(4000n, 2500n), 30_000).health.lagMs).toBe(20_000); // still only the t=10s point is covered
    expect(t.observe(sample(4000n, 4000n), 40_000).health.lagMs).toBe(0);
  });

  it('before any covered poll, lag ms is the time since monitoring began (lower bound)', () => {
    const t = new SlotHealthTracker('s', { lagWarnBytes: 0, lagWarnMs: 0 });
    expect(t.observe(sample(2000n, 1000n), 5_000).health.lagMs).toBe(0);
    expect(t.observe(sample(3000n, 1000n), 8_000).health.lagMs).toBe(3_000);
  });

  it('warns past thresholds and on wal_status unreserved', () => {
    const t = new SlotHealthTracker('s', { lagWarnBytes: 500, lagWarnMs: 1000 });
    t.observe(sample(1000n, 1000n), 0);
    const w = t.observe(sample(3000n, 1000n, { walStatus: 'unreserved' }), 5000).health.warnings.join('\n');
    expect(w).toMatch(/lags 2000 bytes.*slot\.lag\.warn\.bytes = 500/);
    expect(w).toMatch(/lags 5 s.*slot\.lag\.warn\.ms = 1000/);
    expect(w).toMatch(/unreserved.*max_slot_wal_keep_size/);
  });

  it('a lost or vanished slot is fatal, with the remedy', () => {
    const t = new SlotHealthTracker('s', { lagWarnBytes: 0, lagWarnMs: 0 });
    expect(t.observe(sample(3000n, 1000n, { walStatus: 'lost' })).fatal).toMatch(/wal_status = lost.*max_slot_wal_keep_size.*when_needed/);
    const gone = t.observe(sample(3000n, null, { exists: false, walStatus: null }));
    expect(gone.fatal).toMatch(/"s" vanished.*when_needed/);
    expect(gone.health.exists).toBe(false);
  });
});
