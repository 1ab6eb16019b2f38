/**
 * The short fault-verification run (the long one: `npm run verify`, scripts/verify/main.ts). It runs
 * on the shared stack, so it injects only faults that touch nothing shared: kill -9 of its own daemon
 * and cuts of its own TCP proxies between the daemon and the sinks. Everything it creates (database,
 * slot, topics, indices, ClickHouse database, Redis keys) carries a random run id and is removed.
 */
import { describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { runVerify } from '../../scripts/verify/run.js';
import { summary } from '../../scripts/verify/summary.js';

describe('verify (short)', () => {
  it('kill -9 of the daemon and cut sink connections under load: 0 lost, 0 duplicated, 0 stale', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const report = await runVerify({
      seed,
      faults: 4,
      kinds: ['daemon-kill', 'proxy-cut'],
      gapMs: [2000, 5000],
      seedRows: 40,
      txPerSec: 15,
      endpoints: endpoints(),
      catchUpTimeoutMs: 150_000,
      keep: false,
      log: (m) => {
        if (process.env.CDC_TEST_LOG) console.log(m);
      },
    });
    const text = summary(report);
    // The summary names the seed, so a failure can be replayed with `npm run verify -- --seed`.
    expect(report.ok, text).toBe(true);
    expect(report.faults.length).toBe(4);
    expect(report.faults.some((f) => f.kind === 'daemon-kill')).toBe(true);
    expect(report.daemon.starts).toBeGreaterThan(1);
    expect(report.load.expectedChangeEvents).toBeGreaterThan(0);
    expect(report.kafka.records).toBeGreaterThanOrEqual(report.load.expectedChangeEvents);
    expect(report.lost + report.duplicated + report.stale).toBe(0);
  }, 290_000);
});
