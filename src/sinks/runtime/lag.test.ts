import { describe, expect, it } from 'vitest';
import { LagTracker } from './lag.js';

describe('LagTracker', () => {
  it('is unknown (null, never 0) until both the end offsets and the stored offset are known', () => {
    const t = new LagTracker(10_000);
    expect(t.snapshot(1000)).toEqual({ partitions: [], lag: null, timeLagMs: null, updatedAt: null });
    t.assign([{ topic: 'a', partition: 0 }]);
    t.setEnds('a', [{ partition: 0, low: '0', high: '10' }], 1000);
    expect(t.snapshot(1000).lag).toBeNull(); // stored offset still loading
    t.setStored('a', 0, '4');
    const s = t.snapshot(1000);
    expect(s.lag).toBe(6);
    // behind, but since when is not known until the next poll sees it
    expect(s.partitions).toEqual([{ topic: 'a', partition: 0, offset: '4', endOffset: '10', lag: 6, timeLagMs: null }]);
    t.setEnds('a', [{ partition: 0, low: '0', high: '10' }], 1500);
    expect(t.snapshot(2500).timeLagMs).toBe(1000);
    expect(t.snapshot(20_000).lag).toBeNull(); // end offsets too old
  });

  it('a never-consumed partition starts at the low watermark; the total is unknown while one partition is', () => {
    const t = new LagTracker(10_000);
    t.assign([{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }]);
    t.setStored('a', 0, null);
    t.setEnds('a', [{ partition: 0, low: '3', high: '10' }, { partition: 1, low: '0', high: '5' }], 0);
    expect(t.snapshot(0).partitions.map((p) => p.lag)).toEqual([7, null]);
    expect(t.snapshot(0).lag).toBeNull();
    t.setStored('a', 1, '5');
    expect(t.snapshot(0).lag).toBe(7);
  });

  it('time lag: 0 when caught up, the pending record\'s age when one is in hand, else time since first seen behind', () => {
    const t = new LagTracker(100_000);
    t.assign([{ topic: 'a', partition: 0 }]);
    t.setStored('a', 0, '10');
    t.setEnds('a', [{ partition: 0, low: '0', high: '10' }], 1000);
    expect(t.snapshot(1000).timeLagMs).toBe(0);
    t.setEnds('a', [{ partition: 0, low: '0', high: '12' }], 2000);
    expect(t.snapshot(5000).timeLagMs).toBe(3000);
    t.setPending('a', 0, 1500);
    expect(t.snapshot(5000).timeLagMs).toBe(3500);
    t.setStored('a', 0, '12');
    t.setPending('a', 0, null);
    t.setEnds('a', [{ partition: 0, low: '0', high: '12' }], 6000);
    expect(t.snapshot(6000)).toMatchObject({ lag: 0, timeLagMs: 0 });
  });

  it('forgets partitions that moved away', () => {
    const t = new LagTracker(10_000);
    t.assign([{ topic: 'a', partition: 0 }, { topic: 'b', partition: 0 }]);
    t.assign([{ topic: 'b', partition: 0 }]);
    expect(t.topics()).toEqual(['b']);
    t.setStored('b', 0, '1');
    t.setEnds('b', [{ partition: 0, low: '0', high: '1' }], 0);
    expect(t.snapshot(0)).toMatchObject({ lag: 0, partitions: [{ topic: 'b' }] });
  });
});
