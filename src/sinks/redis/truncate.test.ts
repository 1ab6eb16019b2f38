import { describe, expect, it } from 'vitest';
import type { RedisOp } from './plan.js';
import { versionString } from './scripts.js';
import { belowWatermark, truncateField, watermarks, watermarkTables } from './truncate.js';

const none = new Map<string, string>();

const v = (lsn: number, seq = 0): string => versionString({ commitLsn: BigInt(lsn), seq });
const write = (table: string, version: string): Extract<RedisOp, { kind: 'write' }> => ({ kind: 'write', table, key: `k:${version}`, verKey: `cdc:ver:k:${version}`, version, json: '{}', toastColumns: [], ttlMs: 0 });
const truncate = (table: string, version: string): RedisOp => ({ kind: 'truncate', table, version, prefixes: ['k:'], valuePrefix: null, channel: null });

describe('redis truncate watermarks', () => {
  it('raise the stored watermark with the truncates of the batch, never lower it', () => {
    const stored = new Map([['public.a', v(200, 1)]]);
    const marks = watermarks([truncate('public.a', v(150)), truncate('public.b', v(300, 2)), write('public.c', v(10))], stored);
    expect(new Map(marks.entries())).toEqual(new Map([['public.a', v(200, 1)], ['public.b', v(300, 2)]]));
  });
  it('drop only versioned changes older than their own table\'s watermark, by (commit LSN, seq)', () => {
    const marks = watermarks([truncate('public.a', v(200, 1))], none);
    expect(belowWatermark(write('public.a', v(200, 0)), marks)).toBe(true);
    expect(belowWatermark(write('public.a', v(199, 9)), marks)).toBe(true);
    expect(belowWatermark(write('public.a', v(200, 2)), marks)).toBe(false);
    expect(belowWatermark(write('public.a', v(1_000_000_000_000, 0)), marks)).toBe(false);
    expect(belowWatermark(write('public.b', v(1)), marks)).toBe(false);
  });
  it('names the tables a commit must read and the hash field per table', () => {
    expect(watermarkTables([write('public.a', v(1)), truncate('public.b', v(2)), { kind: 'unlink', key: 'x', table: 'public.c', channel: null }])).toEqual(['public.a', 'public.b']);
    expect(truncateField('public.a')).toBe('truncate:public.a');
  });
});
