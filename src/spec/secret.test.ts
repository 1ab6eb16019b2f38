import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isSecretKey, isSecretSchema, maskString, redact, secret } from './secret.js';

describe('secrets', () => {
  it('recognises credential property names', () => {
    for (const k of ['password', 'database.password', 'auth.api.key', 'admin.token', 'client.secret', 'ssl.private.key']) expect(isSecretKey(k), k).toBe(true);
    for (const k of ['database.user', 'slot.name', 'tokens.count.max', 'keys']) expect(isSecretKey(k), k).toBe(false);
  });

  it('redacts secret-named fields and known secret values anywhere, including URLs', () => {
    const out = redact({ 'database.password': 'pw1', nested: [{ token: 't' }], msg: 'failed with pw-value-9 at redis://u:pw2@h:1/0', empty: '' }, new Set(['pw-value-9']));
    expect(out).toEqual({ 'database.password': '[redacted]', nested: [{ token: '[redacted]' }], msg: 'failed with [redacted] at redis://u:[redacted]@h:1/0', empty: '' });
    expect(maskString('postgres://user:p%40ss@host/db')).toBe('postgres://user:[redacted]@host/db');
  });

  it('secret() marks a schema through wrappers', () => {
    const s = secret(z.string());
    expect(isSecretSchema(s.optional().describe('x'))).toBe(true);
    expect(isSecretSchema(z.string())).toBe(false);
  });
});
