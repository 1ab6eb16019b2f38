import { describe, expect, it } from 'vitest';
import { isFencedError, retryDelayMs } from './producer.js';

describe('isFencedError', () => {
  it('finds a fencing code inside aggregated client errors', () => {
    const protocol = Object.assign(new Error('There is a newer producer with the same transactionalId'), { apiId: 'PRODUCER_FENCED' });
    expect(isFencedError(new AggregateError([protocol], 'Received response with error'))).toBe(true);
    const epoch = Object.assign(new Error('x'), { apiId: 'INVALID_PRODUCER_EPOCH' });
    expect(isFencedError(new Error('endTransaction failed 2 times.', { cause: new AggregateError([new Error('net'), epoch]) }))).toBe(true);
  });

  it('does not mistake other broker errors for fencing', () => {
    const busy = Object.assign(new Error('concurrent'), { apiId: 'CONCURRENT_TRANSACTIONS' });
    expect(isFencedError(new AggregateError([busy, new Error('connect ECONNREFUSED')], 'failed'))).toBe(false);
    expect(isFencedError(undefined)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('starts at ~5 ms and is capped at ~2 s', () => {
    expect(retryDelayMs(1)).toBeGreaterThanOrEqual(4);
    expect(retryDelayMs(1)).toBeLessThanOrEqual(6);
    expect(retryDelayMs(40)).toBeLessThanOrEqual(2400);
    expect(retryDelayMs(40)).toBeGreaterThanOrEqual(1600);
  });
});
