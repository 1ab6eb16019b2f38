import { describe, expect, it } from 'vitest';
import type { PipelineStatus, SinkStatus } from '../daemon/status.js';
import { formatStatus, problems } from './status.js';

const sink = (over: Partial<SinkStatus>): SinkStatus => ({ name: 's', type: 'redis', state: 'RUNNING', restarts: 0, records: 5, recordsPerSec: 0, lag: 0, timeLagMs: 0, lagUpdatedAt: null, latencyMs: null, partitions: [], failedTables: [], ...over });
const pipeline = (sinks: SinkStatus[]): PipelineStatus => ({
  name: 'p',
  file: 'p.yaml',
  topicPrefix: 'p',
  kafka: { bootstrapServers: 'k:9092' },
  source: { state: 'RUNNING', restarts: 0, lastLsn: '0/1', eventsPublished: 1, eventsPerSec: 0, slotLagBytes: 0, slotLagMs: 0, slot: null, snapshot: [] },
  sinks,
});

describe('status command output and exit decision', () => {
  it('prints unknown for an unknown lag (never 0) and the last error with its time', () => {
    const out = formatStatus([pipeline([sink({ state: 'RESTARTING', reason: 'cannot reach x — retry 2 at 10:00:01 UTC', lag: null, timeLagMs: null, lastError: { message: 'cannot reach x', at: '2026-01-01T10:00:00.000Z' } })])]);
    expect(out).toContain('  sink s [redis]  RESTARTING (cannot reach x — retry 2 at 10:00:01 UTC)  lag unknown (unknown)');
    expect(out).toContain('      last error 2026-01-01T10:00:00.000Z: cannot reach x');
  });

  it('flags non-RUNNING components and lag thresholds; an unknown lag fails a threshold', () => {
    expect(problems([pipeline([sink({})])], {})).toEqual([]);
    expect(problems([pipeline([sink({ state: 'PAUSED', reason: 'paused' })])], {})).toEqual([]);
    expect(problems([pipeline([sink({ state: 'FAILED', reason: 'boom' })])], {})).toEqual(['p/sink:s is FAILED: boom']);
    expect(problems([pipeline([sink({ lag: 11 })])], { maxLag: 10 })).toEqual(['p/sink:s lag 11 > --max-lag 10']);
    expect(problems([pipeline([sink({ lag: null })])], { maxLag: 10 })).toEqual(['p/sink:s lag is unknown (--max-lag 10)']);
    expect(problems([pipeline([sink({ timeLagMs: 5000 })])], { maxLagMs: 1000 })).toEqual(['p/sink:s time lag 5.0 s > --max-lag-ms 1000']);
  });

  it('a STANDBY source (another daemon runs it) is healthy and shown with its reason', () => {
    const p = pipeline([sink({})]);
    const standby: PipelineStatus = { ...p, source: { ...p.source, state: 'STANDBY', reason: 'standby: another daemon runs this pipeline\'s source', lastLsn: null } };
    expect(problems([standby], {})).toEqual([]);
    expect(formatStatus([standby])).toContain("p  source STANDBY (standby: another daemon runs this pipeline's source)");
  });

  it('a failed table of a running sink is printed and makes the status unhealthy', () => {
    const failedTables = [{ state: 'FAILED' as const, topic: 'p.public.a', table: 'public.a', partition: 0, offset: '7', resumeFrom: '6', error: 'column n: bad value', since: '2026-01-01T10:00:00.000Z' }];
    const list = [pipeline([sink({ failedTables })])];
    expect(formatStatus(list)).toContain('    table public.a FAILED since 2026-01-01T10:00:00.000Z at p.public.a/0@7 (re-applies from offset 6): column n: bad value');
    expect(problems(list, {})).toEqual(['p/sink:s table public.a is FAILED: column n: bad value']);
  });
});
