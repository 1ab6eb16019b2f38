import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssue, didYouMean } from './issues.js';

describe('config issue messages', () => {
  it('suggests close names and clear prefixes only', () => {
    expect(didYouMean('slot.nmae', ['slot.name', 'snapshot.mode'])).toBe('slot.name');
    expect(didYouMean('elastic', ['elasticsearch', 'redis'])).toBe('elasticsearch');
    expect(didYouMean('zzz', ['elasticsearch', 'redis'])).toBeUndefined();
  });

  it('never echoes the value of a secret field', () => {
    const schema = z.object({ 'auth.password': z.string().regex(/^[a-z]+$/), mode: z.enum(['a', 'b']) }).strict();
    const data = { 'auth.password': 'Top-Secret-1', mode: 'c' };
    const r = schema.safeParse(data);
    expect(r.success).toBe(false);
    const msgs = r.error!.issues.flatMap((i) => describeIssue(i, schema, data, new Set()).map((d) => d.message));
    expect(msgs.join('\n')).not.toContain('Top-Secret-1');
    expect(msgs).toContain('expected one of "a" | "b", got "c"');
  });
});
