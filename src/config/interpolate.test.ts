import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpolateString, type InterpolationContext } from './interpolate.js';

const dir = mkdtempSync(join(tmpdir(), 'cdc-interp-'));
writeFileSync(join(dir, 'secret.txt'), 'from-file\n');
const ctx = (env: Record<string, string> = {}): InterpolationContext => ({ env, baseDir: dir, secrets: new Set() });

describe('interpolation', () => {
  it('resolves env vars, defaults and files; types whole-value placeholders', () => {
    expect(interpolateString('${PORT}', ctx({ PORT: '5433' }), false)).toBe(5433);
    expect(interpolateString('${FLAG:-true}', ctx(), false)).toBe(true);
    expect(interpolateString('host-${H:-a}:${P:-1}', ctx(), false)).toBe('host-a:1');
    expect(interpolateString('${file:secret.txt}', ctx(), false)).toBe('from-file');
    expect(interpolateString('$${NOT}', ctx(), false)).toBe('${NOT}');
  });

  it('rejects the old ${…} template syntax with the template rewritten to {…}; leaves {…} templates alone', () => {
    expect(() => interpolateString('${prefix}.${schema}.${table}', ctx(), false)).toThrow(
      '"${prefix}.${schema}.${table}" uses the ${…} template syntax of earlier releases; templates write {name} (${…} is only for environment variables and files): write "{prefix}.{schema}.{table}"',
    );
    expect(() => interpolateString('${ENV_A:-x}-${table}', ctx(), false)).toThrow('write "${ENV_A:-x}-{table}"');
    expect(interpolateString('{prefix}.{schema}.{table}', ctx(), false)).toBe('{prefix}.{schema}.{table}');
    expect(interpolateString('$${table}', ctx(), false)).toBe('${table}');
  });

  it('remembers secret values (secret fields and files) for masking', () => {
    const c = ctx({ PW: 'pw-123' });
    interpolateString('${PW}', c, true);
    interpolateString('${file:secret.txt}', c, false);
    interpolateString('${USER:-bob}', c, false);
    expect([...c.secrets]).toEqual(['pw-123', 'from-file']);
  });

  it('names what is wrong', () => {
    expect(() => interpolateString('${MISSING_X}', ctx(), false)).toThrow('environment variable MISSING_X is not set (set it, or write ${MISSING_X:-default})');
    expect(() => interpolateString('${file:/no/such/file}', ctx(), false)).toThrow('cannot read secret file /no/such/file: no such file');
  });
});

describe('environment variable names', () => {
  it('treats mixed-case names as env vars and names a set variable that differs only in case', () => {
    expect(interpolateString('${Ho_Mixed_Case}', ctx({ Ho_Mixed_Case: 'pw' }), true)).toBe('pw');
    expect(() => interpolateString('${Ho_Mixed_Case}', ctx({ HO_MIXED_CASE: 'pw' }), true)).toThrow('environment variable Ho_Mixed_Case is not set, but HO_MIXED_CASE is (names are case-sensitive): write ${HO_MIXED_CASE}');
    expect(() => interpolateString('${password}', ctx(), true)).toThrow(/environment variable password is not set .*template placeholder/);
  });
});
