import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_VALUE, comparePositions, type Position } from '../../events/change.js';
import { MAX_VERSION, TruncateWatermarks, chunkBy, collapseLastPerKey, fillToast, httpStatusClass, isStale, isStaleVersion, isUnchangedToast, previousToastValue, sinkVersion, toastColumns, versionString } from './index.js';

const p = (commitLsn: number | bigint, seq = 0): Position => ({ commitLsn: BigInt(commitLsn), seq });

describe('sink kit: versions', () => {
  it('uses the commit LSN as the version and refuses one that does not fit a signed 64-bit integer', () => {
    expect(sinkVersion(p(123, 4))).toBe(123n);
    expect(sinkVersion(p(MAX_VERSION))).toBe(MAX_VERSION);
    expect(() => sinkVersion(p(MAX_VERSION + 1n))).toThrow('does not fit a signed 64-bit integer');
  });
  it('calls a change stale only when it is older by (commit LSN, seq); equal is a replay, not stale', () => {
    expect(isStale(p(10, 1), p(10, 2))).toBe(true);
    expect(isStale(p(9, 9), p(10, 0))).toBe(true);
    expect(isStale(p(10, 2), p(10, 2))).toBe(false);
    expect(isStale(p(11, 0), p(10, 5))).toBe(false);
    expect(isStale(p(1), undefined)).toBe(false);
  });
  it('with only the commit LSN stored, calls a change stale only when its commit LSN is lower', () => {
    expect(isStaleVersion(9n, 10n)).toBe(true);
    expect(isStaleVersion(10n, 10n)).toBe(false);
    expect(isStaleVersion(11n, 10n)).toBe(false);
    expect(isStaleVersion(1n, undefined)).toBe(false);
  });
  it('orders version strings like positions, beyond 2^53', () => {
    const big = 1n << 60n;
    const ps = [p(big + 1n, 0), p(big, 7), p(big, 10), p(5, 0), p(big, 0)];
    const byString = [...ps].sort((a, b) => (versionString(a) < versionString(b) ? -1 : 1));
    expect(byString).toEqual([...ps].sort(comparePositions));
  });
});

describe('sink kit: truncate watermarks', () => {
  it('raises and never lowers (W2); a change below its own table\'s watermark is stale (W3)', () => {
    const w = new TruncateWatermarks<Position>(comparePositions, [['a', p(200, 1)]]);
    expect(w.raise('a', p(150))).toBe(false);
    expect(w.get('a')).toEqual(p(200, 1));
    expect(w.raise('b', p(300, 2))).toBe(true);
    expect(w.below('a', p(200, 0))).toBe(true);
    expect(w.below('a', p(200, 1))).toBe(false);
    expect(w.below('a', p(201))).toBe(false);
    expect(w.below('c', p(1))).toBe(false);
    const copy = w.clone();
    copy.raise('a', p(500));
    expect(w.get('a')).toEqual(p(200, 1));
  });
});

describe('sink kit: unchanged TOAST', () => {
  it('recognises the placeholder in its text, bytea (base64, hex) and array shapes only', () => {
    expect(isUnchangedToast(UNAVAILABLE_VALUE)).toBe(true);
    expect(isUnchangedToast(Buffer.from(UNAVAILABLE_VALUE).toString('base64'))).toBe(true);
    expect(isUnchangedToast(Buffer.from(UNAVAILABLE_VALUE).toString('hex'))).toBe(true);
    expect(isUnchangedToast([UNAVAILABLE_VALUE])).toBe(true);
    expect(isUnchangedToast([UNAVAILABLE_VALUE, 'x'])).toBe(false);
    expect(isUnchangedToast('text')).toBe(false);
    expect(isUnchangedToast(null)).toBe(false);
  });
  it('fills from the previous version, leaving out what it lacks, never writing the placeholder', () => {
    const row = { id: 1, a: UNAVAILABLE_VALUE, b: UNAVAILABLE_VALUE, c: 'new' };
    const cols = toastColumns(row);
    expect(cols).toEqual(['a', 'b']);
    expect(fillToast(row, cols, { id: 1, a: 'old a', c: 'old' })).toEqual({ id: 1, a: 'old a', c: 'new' });
    expect(fillToast(row, cols, null)).toEqual({ id: 1, c: 'new' });
    const plain = { id: 2 };
    expect(previousToastValue('a', new Map([['a', 'enc a']]))).toBe('enc a');
    const missing = previousToastValue('b', new Map([['a', 'enc a']]));
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toContain('column b is an unchanged TOAST value');
    expect(previousToastValue('a', undefined)).toBeInstanceOf(Error);
    expect(fillToast(plain, [], null)).toBe(plain);
  });
});

describe('sink kit: last op per key', () => {
  it('keeps the newest by version (not by offset), the last among equal versions, and lists what each superseded', () => {
    const ops = [
      { k: 'x', v: 10n, n: 1 },
      { k: 'y', v: 5n, n: 2 },
      { k: 'x', v: 10n, n: 3 },
      { k: 'x', v: 7n, n: 4 }, // a snapshot row after newer changes: never wins
      { k: 'y', v: 6n, n: 5 },
    ];
    const { kept, superseded } = collapseLastPerKey(ops, (o) => o.k, (o) => o.v);
    expect(kept.map((o) => o.n)).toEqual([3, 5]);
    expect(superseded.get(ops[2]!)?.map((o) => o.n)).toEqual([1, 4]);
    expect(superseded.get(ops[4]!)?.map((o) => o.n)).toEqual([2]);
  });
});

describe('sink kit: error classification', () => {
  it('maps statuses to ok / retry / config / reject', () => {
    expect([200, 204].map(httpStatusClass)).toEqual(['ok', 'ok']);
    expect([408, 429, 500, 503, 0].map(httpStatusClass)).toEqual(['retry', 'retry', 'retry', 'retry', 'retry']);
    expect([301, 401, 403, 404, 415].map(httpStatusClass)).toEqual(['config', 'config', 'config', 'config', 'config']);
    expect([400, 409, 413, 422].map(httpStatusClass)).toEqual(['reject', 'reject', 'reject', 'reject']);
  });
});

describe('sink kit: batching', () => {
  it('keeps order, bounds count and bytes (with overhead), and sends an oversized item alone', () => {
    const items = ['aa', 'bbbb', 'c', 'dddddddddd', 'e', 'f'];
    expect(chunkBy(items, { maxItems: 4, maxBytes: 8, overheadBytes: 1 }, (s) => s.length)).toEqual([['aa', 'bbbb', 'c'], ['dddddddddd'], ['e', 'f']]);
    expect(chunkBy(items, { maxItems: 2 })).toEqual([['aa', 'bbbb'], ['c', 'dddddddddd'], ['e', 'f']]);
    expect(chunkBy([], { maxItems: 2 })).toEqual([]);
  });
});
