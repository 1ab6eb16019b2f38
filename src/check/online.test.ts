import { describe, expect, it } from 'vitest';
import { CheckTimeoutError, isUnreachable, networkReason, withDeadline } from './online.js';

describe('online check helpers', () => {
  it('withDeadline: the work\'s result, or "did not answer within N s" and the cleanup runs', async () => {
    await expect(withDeadline('X', 1000, Promise.resolve(7))).resolves.toBe(7);
    let cleaned = false;
    const never = new Promise<number>(() => undefined);
    const err = await withDeadline('Redis at h:1', 20, never, () => (cleaned = true)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckTimeoutError);
    expect((err as Error).message).toBe('Redis at h:1 did not answer within 20 ms');
    expect(cleaned).toBe(true);
    await expect(withDeadline('X', 1000, Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  it('networkReason names the network failure, from a code anywhere in the error or its message', () => {
    expect(networkReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('connection refused: nothing listens on that port');
    expect(networkReason(new AggregateError([Object.assign(new Error('a'), { code: 'ENOTFOUND' })]))).toBe('host name not found (DNS)');
    expect(networkReason(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connection refused: nothing listens on that port');
    expect(networkReason(new CheckTimeoutError('late'))).toBe('no answer');
    expect(networkReason(new Error('password authentication failed\nmore'))).toBe('password authentication failed');
    expect(isUnreachable(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe(true);
    expect(isUnreachable(new Error('password authentication failed'))).toBe(false);
  });
});
