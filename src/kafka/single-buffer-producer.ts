/**
 * The one place that reaches into @platformatic/kafka's internals: the source's producer with our
 * single-buffer Produce encoder (./produce-request.ts) in place of the library's own.
 *
 * Why it stays: the library builds each record from ~10 tiny Buffers, concatenates them twice and
 * hashes keys in BigInt; our encoder writes one buffer and was worth +15–25 % source throughput and
 * ~20 % less CPU in A/B runs of `npm run bench:source` (docs/benchmarks.md; bench/results/source.json
 * names the encoder in use). The library has no supported way to plug in an encoder.
 *
 * How: every request of a library client fetches its encoder through the method keyed by the
 * library's `kGetApi` symbol. It is exported and typed, but it is the library's internal hook, not a
 * documented extension point. We override it for 'Produce' only and hand the library's API object
 * to `fastProduceApi`, which encodes Produce v7–v11 uncompressed byte for byte as the library does
 * (test/kafka/produce-request.test.ts compares them) and falls back to the library's encoder for
 * anything else; connections, retries, sequences, transactions and response parsing stay the library's.
 *
 * Guard rails: if a library upgrade drops or renames the hook, `createSourceProducer` uses the plain
 * library producer (correct, slower), and the byte-for-byte test fails on an upgrade that changes
 * the encoding. `CDC_FANOUT_KAFKA_ENCODER=library` switches to the library's encoder (A/B, or if
 * ours were ever suspected).
 */
import { kGetApi, Producer, type API, type Callback, type ProducerOptions, type Serializer } from '@platformatic/kafka';
import { keyHash } from './murmur2.js';
import { fastProduceApi, type ProduceApi } from './produce-request.js';

type StringOptions = ProducerOptions<string, string, string, string>;

class SingleBufferProducer extends Producer<string, string, string, string> {
  override [kGetApi]<A extends Array<unknown>, R>(name: string, callback: Callback<API<A, R>>): void {
    if (name !== 'Produce') {
      super[kGetApi](name, callback);
      return;
    }
    super[kGetApi]<A, R>(name, (error, api) => {
      if (error || !api) callback(error, api);
      else callback(null, fastProduceApi(api as unknown as ProduceApi) as unknown as API<A, R>);
    });
  }
}

/** True when the library's encoder was asked for (CDC_FANOUT_KAFKA_ENCODER=library). */
export const useLibraryEncoder = (): boolean => process.env.CDC_FANOUT_KAFKA_ENCODER === 'library';

/** True when the library still has the hook this file overrides. */
export function singleBufferEncoderAvailable(): boolean {
  return typeof kGetApi === 'symbol' && typeof (Producer.prototype as unknown as Record<symbol, unknown>)[kGetApi] === 'function';
}

/**
 * With our encoder, keys/values/headers stay strings until they are written as UTF-8 into the
 * request (no Buffer per field), and the key's partition is our 32-bit murmur2 of the same bytes.
 */
const passThrough = ((data?: string) => data) as unknown as Serializer<string>;
const singleBufferOptions: Pick<StringOptions, 'serializers' | 'partitioner'> = {
  serializers: { key: passThrough, value: passThrough, headerKey: passThrough, headerValue: passThrough },
  partitioner: (_message, key) => (key == null ? 0 : keyHash(key as unknown as string)),
};

/** The source's producer: with our Produce encoder unless the library's was asked for or the hook is gone. */
export function createSourceProducer(options: StringOptions): Producer<string, string, string, string> {
  if (useLibraryEncoder() || !singleBufferEncoderAvailable()) return new Producer(options);
  return new SingleBufferProducer({ ...options, ...singleBufferOptions });
}
