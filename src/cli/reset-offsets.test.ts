import { describe, expect, it } from 'vitest';
import { resetTarget } from './reset-offsets.js';

describe('reset-offsets --to', () => {
  it('takes earliest, latest and ISO-8601 times with a zone', () => {
    expect(resetTarget('earliest')).toBe('earliest');
    expect(resetTarget('latest')).toBe('latest');
    expect(resetTarget('2026-11-30T12:00:00Z')).toEqual({ time: Date.UTC(2026, 10, 30, 12) });
    expect(resetTarget('2026-11-30T13:30+01:00')).toEqual({ time: Date.UTC(2026, 10, 30, 12, 30) });
    expect(resetTarget('2026-11-30T12:00:00.250Z')).toEqual({ time: Date.UTC(2026, 10, 30, 12, 0, 0, 250) });
  });
  it('refuses anything else, including times without a zone (their meaning would depend on the machine)', () => {
    for (const bad of ['', 'Earliest', 'now', '2026-11-30', '2026-11-30T12:00:00', '2026-13-40T99:00:00Z', '1700000000000']) expect(resetTarget(bad), bad).toBeUndefined();
  });
});
