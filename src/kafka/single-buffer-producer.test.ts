import { Producer } from '@platformatic/kafka';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSourceProducer, singleBufferEncoderAvailable } from './single-buffer-producer.js';

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
    } finally {
      await Promise.all([ours.close(), library.close()]);
    }
  });
});
