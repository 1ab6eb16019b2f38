import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { offsetsTopic, parseHostEntry, parseSourceConfig, sourceSpec, transactionalId } from './config.js';
import { clientConfig, configuredHosts, withServer } from './connection.js';

describe('source config', () => {
  it('describes every field', () => {
    const undocumented = Object.entries(sourceSpec.shape as Record<string, z.ZodType>)
      .filter(([, f]) => !f.description)
      .map(([k]) => k);
    expect(undocumented).toEqual([]);
  });

  it('applies Debezium-named defaults and derives ids', () => {
    const c = parseSourceConfig({ name: 'orders', 'topic.prefix': 'shop' });
    expect(c['snapshot.mode']).toBe('initial');
    expect(c['publication.autocreate.mode']).toBe('all_tables');
    expect(c['tombstones.on.delete']).toBe(true);
    expect(offsetsTopic(c)).toBe('shop.cdc-fanout.offsets');
    expect(transactionalId(c)).toBe('cdc-fanout-orders');
  });

  it('explains what is wrong', () => {
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'snapshot.mode': 'sometimes' })).toThrow(/snapshot\.mode/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'slot.name': 'Bad-Slot' })).toThrow(/slot\.name: replication slot names/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'table.include.list': 'a', 'table.exclude.list': 'b' })).toThrow(/not both/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'message.prefix.include.list': 'a', 'message.prefix.exclude.list': 'b' })).toThrow(/message.prefix.include.list or message.prefix.exclude.list, not both/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'message.prefix.include.list': ['outbox('] })).toThrow(/not a valid regular expression/);
    expect(() => parseSourceConfig({ name: 'x', 'topic.prefix': 'p', 'no.such': 1 })).toThrow(/no\.such|Unrecognized/);
  });
});

describe('database.hosts', () => {
  const base = { name: 'p', 'topic.prefix': 'p' };

  it('lists host[:port] entries in order; the port defaults to database.port; the resolved config has one server', () => {
    const cfg = parseSourceConfig({ ...base, 'database.hosts': 'pg-a:5433, pg-b,[::1]:6000', 'database.port': 5999 });
    expect(configuredHosts(cfg)).toEqual([
      { host: 'pg-a', port: 5433 },
      { host: 'pg-b', port: 5999 },
      { host: '::1', port: 6000 },
    ]);
    expect(clientConfig(cfg)).toMatchObject({ host: 'pg-a', port: 5433 });
    const pinned = withServer(cfg, { host: 'pg-b', port: 5999 });
    expect(configuredHosts(pinned)).toEqual([{ host: 'pg-b', port: 5999 }]);
    expect(cfg['database.target.session.attrs']).toBe('primary');
    expect(configuredHosts(parseSourceConfig(base))).toEqual([{ host: '127.0.0.1', port: 5432 }]);
  });

  it('rejects malformed entries with the expected form', () => {
    expect(() => parseSourceConfig({ ...base, 'database.hosts': 'pg-a:5432,pg-b:99999' })).toThrow(/database\.hosts: entry "pg-b:99999" is not `host` or `host:port`/);
    expect(() => parseSourceConfig({ ...base, 'database.hosts': ' , ' })).toThrow(/database\.hosts: names no host/);
    expect(parseHostEntry('a b', 5432)).toBeNull();
  });
});
