/**
 * Daemon HA end to end (issue 19.6): two daemons run the same pipeline file (source + ES,
 * ClickHouse and Redis sinks) under a write load; kill -9 of the daemon that runs the source, four
 * times — so the kills alternate between the two. After each kill the other daemon's source must
 * take over (RUNNING), and the killed one, restarted, must come back as STANDBY (admin API and
 * metrics), never FAILED. At the
 * end every sink is reconciled with Postgres row by row and Kafka read_committed holds every change
 * event exactly once (scripts/verify: checker.ts, kafka-check.ts). The long run:
 * `npm run verify -- --ha --kinds daemon-kill,proxy-cut`.
 */
import { describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { runVerify } from '../../scripts/verify/run.js';
import { summary } from '../../scripts/verify/summary.js';

describe('daemon HA (two daemons, same config)', () => {
  it('kill -9 of the active daemon, alternating: the standby takes over, the killed one returns as STANDBY; 0 lost, 0 duplicated, 0 stale', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const report = await runVerify({
      seed,
      faults: 4,
      kinds: ['daemon-kill'],
      gapMs: [3000, 6000],
      seedRows: 40,
      txPerSec: 15,
      endpoints: endpoints(),
      catchUpTimeoutMs: 150_000,
      keep: false,
      ha: true,
      log: (m) => {
        if (process.env.CDC_TEST_LOG) console.log(m);
      },
    });
    const text = summary(report);
    if (process.env.CDC_TEST_LOG) console.log(text);
    expect(report.ha, text).toBeDefined();
    const ha = report.ha!;
    expect(ha.takeovers.length, text).toBe(4);
    // Each kill hit the daemon running the source, so the roles alternate: A→B, B→A, …
    for (let i = 1; i < ha.takeovers.length; i++) expect(ha.takeovers[i]!.killed, text).toBe(ha.takeovers[i - 1]!.tookOverBy);
    for (const t of ha.takeovers) {
      expect(t.takeoverMs, text).not.toBeNull();
      expect(t.standbyMs, text).not.toBeNull();
      expect(t.standbyMetric, text).toBe(true);
    }
    expect(ha.standbySeen, text).toBe(4);
    expect(Object.values(ha.sourceFailures), text).toEqual([0, 0]);
    expect(report.load.expectedChangeEvents).toBeGreaterThan(0);
    expect(report.kafka.records).toBeGreaterThanOrEqual(report.load.expectedChangeEvents);
    expect(report.lost + report.duplicated + report.stale, text).toBe(0);
    expect(report.ok, text).toBe(true);
  }, 480_000);
});
