import { Producer } from '@platformatic/kafka';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSourceProducer, DispatchTracker, dispatchTracker, singleBufferEncoderAvailable } from './single-buffer-producer.js';

const options = { clientId: 't', bootstrapBrokers: ['127.0.0.1:1'] };

describe('createSourceProducer', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('finds the library hook it overrides (an upgrade that drops it silently loses the fast encoder)', () => {
    expect(singleBufferEncoderAvailable()).toBe(true);
  });

  it('uses our encoder by default and the library\'s when CDC_FANOUT_KAFKA_ENCODER=library', async () => {
    vi.stubEnv('CDC_FANOUT_KAFKA_ENCODER', '');
    const ours = createSourceProducer(options);
    vi.stubEnv('CDC_FANOUT_KAFKA_ENCODER', 'library');
    const library = createSourceProducer(options);
    try {
      expect(ours.constructor.name).toBe('SingleBufferProducer');
      expect(ours).toBeInstanceOf(Producer);
      expect(library.constructor).toBe(Producer);
      expect(dispatchTracker(ours)).toBeInstanceOf(DispatchTracker);
      expect(dispatchTracker(library), 'no hook, no pipelining').toBeNull();
    } finally {
      await Promise.all([ours.close(), library.close()]);
    }
  });
});

describe('DispatchTracker', () => {
  const settled = async (p: Promise<void>): Promise<boolean> => {
    let done = false;
    void p.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    return done;
  };

  it('resolves once every request of the next send (one per partition leader) was handed over', async () => {
    const t = new DispatchTracker();
    const send = t.next(5);
    const options = {};
    t.handedOver(options, [1, 2, 3]); // leader 1
    expect(await settled(send)).toBe(false);
    t.handedOver(options, [4, 5]); // leader 2
    expect(await settled(send)).toBe(true);
  });

  it('ignores retries: of an older send, and of a request of this send already counted', async () => {
    const t = new DispatchTracker();
    const first = {};
    const firstMessages = [1, 2];
    const a = t.next(2);
    t.handedOver(first, firstMessages);
    expect(await settled(a)).toBe(true);

    const b = t.next(4);
    t.handedOver(first, firstMessages); // the older send's request again (a retry)
    expect(await settled(b)).toBe(false);
    const second = {};
    const toLeader1 = [1, 2];
    t.handedOver(second, toLeader1);
    t.handedOver(second, toLeader1); // retried before the other leader's request went out
    expect(await settled(b)).toBe(false);
    t.handedOver(first, [9, 9]); // an older send never counts towards this one
    expect(await settled(b)).toBe(false);
    t.handedOver(second, [3, 4]);
    expect(await settled(b)).toBe(true);
  });

  it('hands nothing over while no send waits', () => {
    const t = new DispatchTracker();
    expect(() => t.handedOver({}, [1])).not.toThrow();
    expect(() => t.handedOver(undefined, undefined)).not.toThrow();
  });
});
