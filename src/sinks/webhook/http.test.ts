import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './http.js';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it('reads delta-seconds and HTTP dates, ignores what it cannot parse', () => {
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 30 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 30 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
