import { describe, expect, it } from 'vitest';
import { keepaliveOptions, standbyReason } from './leader-lease.js';

describe('leader lease helpers', () => {
  it('keepalive settings add up to about the lease timeout', () => {
    expect(keepaliveOptions(10_000)).toBe('-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3 -c tcp_user_timeout=10000');
    expect(keepaliveOptions(30_000)).toBe('-c tcp_keepalives_idle=15 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c tcp_user_timeout=30000');
    // Never below 1 s per step.
    expect(keepaliveOptions(3000)).toBe('-c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3 -c tcp_user_timeout=3000');
  });

  it('the standby reason names the holder, or the walsender it waits for', () => {
    expect(standbyReason({ kind: 'held-elsewhere', holder: { pid: 42, applicationName: 'cdc-fanout:shop:lease', clientAddr: '10.0.0.7', since: '2026-01-01T00:00:00.000Z' } }, 'shop')).toBe(
      `standby: another daemon runs this pipeline's source (lease of slot "shop" held by Postgres backend 42 (cdc-fanout:shop:lease from 10.0.0.7, since 2026-01-01T00:00:00.000Z)); taking over when it stops`,
    );
    expect(standbyReason({ kind: 'held-elsewhere', holder: null }, 'shop')).toMatch(/held by another process\); taking over when it stops$/);
    expect(standbyReason({ kind: 'slot-active', activePid: 7, applicationName: 'cdc-fanout:shop', clientAddr: null }, 'shop')).toMatch(
      /^standby: holding the lease, waiting for slot "shop" to be released by walsender pid 7 \(cdc-fanout:shop\) — this pipeline's previous instance/,
    );
  });
});
