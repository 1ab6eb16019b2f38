import { describe, expect, it } from 'vitest';
import { TRUNCATED_HEADER, truncateRecord, truncationMarker, utf8Prefix } from './truncate.js';
import type { EventRecord } from './record.js';

const rec = (value: string | null): EventRecord => ({ topic: 't', key: '{"id":1}', value, headers: { 'cdc.seq': '0' } });

describe('truncateRecord', () => {
  it('cuts the largest after/before strings, keeps every other byte, adds the marker and header', () => {
    const big = 'x'.repeat(10000);
    const value = `{"before":null,"after":{"id":12345678901234567890,"small":"keep me","body":"${big}","n":1.50},"source":{"db":"d"},"op":"c"}`;
    const r = truncateRecord(rec(value), 2000);
    expect(r).not.toBeNull();
    expect(Buffer.byteLength(r!.record.value!, 'utf8')).toBeLessThanOrEqual(2000);
    expect(r!.fields).toEqual(['after.body']);
    expect(r!.record.headers[TRUNCATED_HEADER]).toBe('after.body');
    expect(r!.record.headers['cdc.seq']).toBe('0');
    // Numbers keep their exact text (no JSON.parse/stringify round trip).
    expect(r!.record.value).toContain('"id":12345678901234567890');
    expect(r!.record.value).toContain('"n":1.50');
    const body = (JSON.parse(r!.record.value!) as { after: { body: string; small: string } }).after;
    expect(body.small).toBe('keep me');
    const m = /…\[truncated (\d+) bytes\]$/.exec(body.body);
    expect(m).not.toBeNull();
    expect(body.body.length - m![0].length + Number(m![1])).toBe(10000);
  });

  it('works inside the schemas.enable=true wrapper and with multi-byte text and escapes', () => {
    const big = 'ä"\\€'.repeat(3000);
    const payload = { before: { id: 1, t: big }, after: { id: 1, t: big }, op: 'u' };
    const value = JSON.stringify({ schema: { type: 'struct', fields: [{ field: 'after', type: 'string' }] }, payload });
    const r = truncateRecord(rec(value), 6000);
    expect(r).not.toBeNull();
    expect(Buffer.byteLength(r!.record.value!, 'utf8')).toBeLessThanOrEqual(6000);
    expect([...r!.fields].sort()).toEqual(['after.t', 'before.t']);
    const parsed = JSON.parse(r!.record.value!) as { schema: unknown; payload: { after: { t: string } } };
    expect(parsed.schema).toEqual({ type: 'struct', fields: [{ field: 'after', type: 'string' }] });
    expect(parsed.payload.after.t.startsWith('ä"\\€')).toBe(true);
    expect(parsed.payload.after.t).toMatch(/…\[truncated \d+ bytes\]$/);
  });

  it('returns null when cutting cannot make it fit or there is nothing to cut', () => {
    expect(truncateRecord(rec(null), 10)).toBeNull();
    expect(truncateRecord(rec(`{"after":{"a":"${'y'.repeat(100)}"},"source":{"x":"${'z'.repeat(500)}"}}`), 300)).toBeNull();
  });

  it('utf8Prefix never splits a character', () => {
    expect(utf8Prefix('aé€', 3)).toBe('aé');
    expect(utf8Prefix('aé€', 5)).toBe('aé');
    expect(utf8Prefix('aé€', 6)).toBe('aé€');
    expect(truncationMarker(5)).toBe('…[truncated 5 bytes]');
  });
});
