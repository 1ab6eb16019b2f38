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
