import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, fitDlqMessage, originalHeaders } from './dlq-producer.js';
import { RECORD_BATCH_OVERHEAD, recordSizeBound } from './record-size.js';

describe('fitDlqMessage', () => {
  it('always fits the limit, keeps what fits untouched, and says what it cut', () => {
    for (const limit of [2000, 5000, 20_000, 1_048_576]) {
      for (const [k, v, msg] of [
        [10, 100, 50],
        [10, 3_000_000, 100_000],
        [3000, 3000, 20_000],
        [50_000, 10, 10],
      ] as const) {
        const m = {
          topic: 'dlq',
          key: Buffer.alloc(k, 'k'),
          value: Buffer.from('ä'.repeat(v / 2)),
          headers: { [DLQ_HEADERS.message]: 'E'.repeat(msg), [DLQ_HEADERS.topic]: 'data' },
        };
        const out = fitDlqMessage(m, limit);
        expect(RECORD_BATCH_OVERHEAD + recordSizeBound(out)).toBeLessThanOrEqual(limit);
        if (RECORD_BATCH_OVERHEAD + recordSizeBound(m) <= limit) expect(out).toBe(m);
        else expect(out.headers['cdc.truncated']).toMatch(/\w/);
        // The value stays valid UTF-8 (no split character) and ends with the marker when cut.
        if (out.headers['cdc.truncated']?.includes('value')) expect(out.value!.toString('utf8')).toMatch(/^ä*…\[truncated \d+ bytes\]$/);
      }
    }
  });
});

describe('originalHeaders', () => {
  it('keeps the record\'s own headers (its position) as strings and drops error headers of an earlier dead-lettering', () => {
    expect(
      originalHeaders({
        'cdc.commit_lsn': Buffer.from('123'),
        'cdc.seq': '4',
        multi: [Buffer.from('a'), 'b'],
        [DLQ_HEADERS.message]: 'old error',
        [DLQ_HEADERS.offset]: '7',
        'cdc.truncated': 'value',
        gone: undefined,
      }),
    ).toEqual({ 'cdc.commit_lsn': '123', 'cdc.seq': '4', multi: 'a' });
    expect(originalHeaders(undefined)).toEqual({});
  });
});
