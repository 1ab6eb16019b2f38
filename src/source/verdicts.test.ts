import { describe, expect, it } from 'vitest';
import { replicaIdentityProblem } from './connection.js';

const t = (keyColumns: string[], replicaIdentity: 'default' | 'nothing' | 'full' | 'index') => ({ schema: 'public', table: 't', keyColumns, replicaIdentity });

describe('replicaIdentityProblem', () => {
  it('no key and DEFAULT, or NOTHING: an error (Postgres rejects UPDATE/DELETE once published)', () => {
    expect(replicaIdentityProblem(t([], 'default'))?.severity).toBe('error');
    expect(replicaIdentityProblem(t(['id'], 'nothing'))?.message).toMatch(/REPLICA IDENTITY NOTHING: once it is in the publication, Postgres REJECTS its UPDATEs and DELETEs/);
  });
  it('FULL without a key: a warning, unless message.key.columns names the key', () => {
    expect(replicaIdentityProblem(t([], 'full'))?.severity).toBe('warning');
    expect(replicaIdentityProblem(t([], 'full'), true)).toBeNull();
  });
  it('a primary key, or an identity index: fine', () => {
    expect(replicaIdentityProblem(t(['id'], 'default'))).toBeNull();
    expect(replicaIdentityProblem(t([], 'index'))).toBeNull();
    expect(replicaIdentityProblem(t(['id'], 'full'))).toBeNull();
  });
});

describe('server and slot verdicts shared by run and validate --online', () => {
  it('wal_level must be logical; the role needs REPLICATION or superuser', async () => {
    const { walLevelProblem, replicationRoleProblem } = await import('./connection.js');
    expect(walLevelProblem('logical')).toBeNull();
    expect(walLevelProblem('replica')).toBe('Postgres wal_level is "replica", logical decoding needs "logical". Fix: run ALTER SYSTEM SET wal_level = logical; then restart Postgres.');
    expect(replicationRoleProblem({ rolreplication: false, rolsuper: true }, 'u')).toBeNull();
    expect(replicationRoleProblem({ rolreplication: false, rolsuper: false }, 'u')).toBe('Postgres user "u" lacks the REPLICATION privilege. Fix: ALTER ROLE "u" WITH REPLICATION;');
  });

  it('slotProblems lists every reason an existing slot is unusable', async () => {
    const { slotProblems } = await import('./connection.js');
    const { parseSourceConfig } = await import('./config.js');
    const cfg = parseSourceConfig({ name: 'p', 'topic.prefix': 'p', 'slot.name': 's', 'database.dbname': 'db' });
    const slot = { exists: true, activePid: 42, confirmedFlushLsn: 16n, restartLsn: 0n, walStatus: 'reserved', safeWalSize: null, plugin: 'wal2json', database: 'other' };
    const problems = slotProblems(slot, cfg);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^replication slot "s" is active in another process \(pid 42\) at confirmed_flush_lsn 0\/10;/);
    expect(problems[1]).toBe('replication slot "s" uses plugin "wal2json", not pgoutput; drop it or choose another slot.name');
    expect(problems[2]).toBe('replication slot "s" belongs to database "other", not "db"; choose another slot.name');
    expect(slotProblems({ ...slot, exists: false }, cfg)).toEqual([]);
  });
});
