import { describe, expect, it } from 'vitest';
import { generationKeyOf, inNamespace, valuesOnly, versionKeyIn } from './namespace.js';
import type { RedisOp } from './plan.js';

const write: RedisOp = { kind: 'write', table: 'public.users', key: 'user:1', verKey: 'cdc:ver@grp:user:1', version: 'v', json: '{}', toastColumns: [], ttlMs: 0 };
const unlink: RedisOp = { kind: 'unlink', key: 'user:email:a', table: 'public.users', channel: 'ch' };
const truncate: RedisOp = { kind: 'truncate', table: 'public.users', version: 'v', prefixes: ['user:email:'], valuePrefix: 'user:', channel: 'ch' };

describe('redis generations: namespaces', () => {
  it('generation 0 (no pointer) leaves every op as planned', () => {
    for (const op of [write, unlink, truncate]) expect(inNamespace(op, null)).toBe(op);
  });
  it('moves rows and their versions into the namespace, never invalidation keys', () => {
    expect(inNamespace(write, 'g1-abc')).toMatchObject({ key: 'g1-abc:user:1', verKey: 'cdc:ver@g1-abc:user:1' });
    expect(inNamespace(unlink, 'g1-abc')).toBe(unlink);
    expect(inNamespace(truncate, 'g1-abc')).toMatchObject({ prefixes: ['user:email:'], valuePrefix: 'g1-abc:user:', namespace: 'g1-abc' });
  });
  it('version keys of scanned keys: the namespace\'s for its rows, the group\'s otherwise', () => {
    expect(versionKeyIn('g1-abc', 'grp', 'g1-abc:user:1')).toBe('cdc:ver@g1-abc:user:1');
    expect(versionKeyIn('g1-abc', 'grp', 'user:email:a')).toBe('cdc:ver@grp:user:email:a');
    expect(versionKeyIn(null, 'grp', 'user:1')).toBe('cdc:ver@grp:user:1');
  });
  it('the building instance applies rows only: no invalidations, no publishes', () => {
    expect(valuesOnly([write, unlink, truncate, { ...truncate, valuePrefix: null }])).toEqual([write, { ...truncate, prefixes: [], channel: null }]);
  });
  it('pointer key: generation.key, else derived from the group', () => {
    expect(generationKeyOf({}, 'cdc-fanout.shop.cache')).toBe('cdc:generation:cdc-fanout.shop.cache');
    expect(generationKeyOf({ 'generation.key': 'app:gen' }, 'x')).toBe('app:gen');
  });
});
