/**
 * Crash test (CI size, 5 kill -9 cycles): the source as a child process under a concurrent write
 * load; at the end Kafka holds exactly one event per committed PG change, in per-key order, and
 * exactly one snapshot read per seeded row. The long version: scripts/soak-source.ts (≥ 20 cycles).
 */
import { describe, expect, it } from 'vitest';
import { runCrashCycles } from './crash-harness.js';

describe('crash: kill -9 under load', () => {
  it('0 lost, 0 duplicated, per-key order across 5 kill -9 cycles', async () => {
    const r = await runCrashCycles({ cycles: 5, seedRows: 5000, minKillMs: 200, maxKillMs: 2500, log: (m) => console.log(m) });
    console.log(JSON.stringify({ ...r, problems: r.problems.slice(0, 5) }));
    expect(r.problems).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.outOfOrder).toBe(0);
    expect(r.snapshotReads).toBe(5000);
    expect(r.changes).toBeGreaterThan(100);
    expect(r.kills).toBe(5);
  }, 600_000);
});
