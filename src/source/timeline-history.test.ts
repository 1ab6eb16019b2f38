/** TIMELINE_HISTORY content → where each ancestor timeline ended. */
import { describe, expect, it } from 'vitest';
import { parseLsn } from '../events/change.js';
import { parseTimelineHistory } from './connection.js';

describe('parseTimelineHistory', () => {
  it('reads `<parent tli> <switch point> <reason>` lines, ignoring blank and comment lines', () => {
    const h = parseTimelineHistory('1\t0/3029350\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-11-30 12:00:00+00\n# comment\n');
    expect([...h.entries()]).toEqual([
      [1, parseLsn('0/3029350')],
      [2, parseLsn('0/5000000')],
    ]);
    expect(parseTimelineHistory('').size).toBe(0);
  });
});
