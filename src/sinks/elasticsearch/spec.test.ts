import { describe, expect, it } from 'vitest';
import { elasticsearchSpec } from './spec.js';

const url = 'http://127.0.0.1:9200';

describe('elasticsearch config spec', () => {
  it('describes every field', () => {
    for (const [name, field] of Object.entries(elasticsearchSpec.shape)) {
      expect(field.description, name).toBeTruthy();
    }
  });
  it('fills defaults', () => {
    const c = elasticsearchSpec.parse({ url });
    expect(c['index.name.template']).toBe('{prefix}.{schema}.{table}');
    expect(c['truncate.mode']).toBe('delete');
    expect(c['checkpoint.index']).toBe('cdc-fanout-checkpoints');
    expect(c.refresh).toBe('false');
    expect(c['bulk.collapse']).toBe(true);
  });
  it('requires an explicit url and rejects unknown keys', () => {
    expect(elasticsearchSpec.safeParse({}).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, 'index.nam.template': 'x' }).success).toBe(false);
  });
  it('explains bad index templates and auth combinations', () => {
    const bad = elasticsearchSpec.safeParse({ url, 'index.name.template': '{prefix}/{table}' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('index.name.template does not give a valid index name');
    const unknown = elasticsearchSpec.safeParse({ url, 'index.name.template': '{schma}.{table}' });
    expect(JSON.stringify(unknown.error?.issues)).toContain('unknown placeholder');
    expect(elasticsearchSpec.safeParse({ url, auth: { username: 'elastic' } }).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, auth: { username: 'e', password: 'p', 'api.key': 'k' } }).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, auth: { username: 'e', password: 'p' } }).success).toBe(true);
    expect(elasticsearchSpec.safeParse({ url, auth: { 'api.key': 'k' } }).success).toBe(true);
    expect(elasticsearchSpec.safeParse({ url, 'auth.username': 'e' }).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, 'table.overrides': { 'public.t': { 'fields.include': ['a'], 'fields.exclude': ['b'] } } }).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, 'table.overrides': { orders: { 'fields.include': ['a'] } } }).success).toBe(false);
    expect(elasticsearchSpec.safeParse({ url, 'table.overrides': { 'public.t': { 'fields.include': ['a'] } } }).success).toBe(true);
  });
});

describe('elasticsearch config secrets', () => {
  it('marks credentials as secrets', async () => {
    const { isSecretSchema } = await import('../../spec/secret.js');
    const auth = elasticsearchSpec.shape.auth.unwrap().shape;
    expect(isSecretSchema(auth.password)).toBe(true);
    expect(isSecretSchema(auth['api.key'])).toBe(true);
    expect(isSecretSchema(auth.username)).toBe(false);
    expect(isSecretSchema(elasticsearchSpec.shape.tls.unwrap().shape.key)).toBe(true);
  });
});
