import { describe, expect, it } from 'vitest';
import { messagePrefixFilter } from './streaming.js';

describe('messagePrefixFilter (message.prefix.include/exclude.list)', () => {
  it('neither list: every prefix', () => {
    const wanted = messagePrefixFilter({});
    expect(['outbox', '', 'anything'].map(wanted)).toEqual([true, true, true]);
  });

  it('include list: only prefixes a whole pattern matches', () => {
    const wanted = messagePrefixFilter({ 'message.prefix.include.list': 'outbox,audit\\..*' });
    expect(['outbox', 'outbox-audit', 'audit.users', 'audit', 'noise'].map(wanted)).toEqual([true, false, true, false, false]);
  });

  it('exclude list: every prefix but those a whole pattern matches', () => {
    const wanted = messagePrefixFilter({ 'message.prefix.exclude.list': 'noise, tmp-.*' });
    expect(['noise', 'noise-2', 'tmp-1', 'outbox'].map(wanted)).toEqual([false, true, false, true]);
  });

  it('one compiled filter answers the same for repeated calls (no stateful global regexes)', () => {
    const wanted = messagePrefixFilter({ 'message.prefix.include.list': 'outbox' });
    expect([wanted('outbox'), wanted('outbox'), wanted('outbox')]).toEqual([true, true, true]);
  });
});
