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

class SingleBufferProducer extends Producer<string, string, string, string> implements DispatchSignal {
  /** The batch options of every send whose request was handed to a connection (retries reuse them). */
  readonly #dispatched = new WeakSet<object>();
  #onDispatch: (() => void) | null = null;
  readonly #apis = new Map<number, ProduceApi>();

  nextDispatch(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#onDispatch = resolve;
    });
  }

  override [kGetApi]<A extends Array<unknown>, R>(name: string, callback: Callback<API<A, R>>): void {
    if (name !== 'Produce') {
      super[kGetApi](name, callback);
      return;
    }
    super[kGetApi]<A, R>(name, (error, api) => {
      if (error || !api) callback(error, api);
      else callback(null, this.#signalling(api as unknown as ProduceApi) as unknown as API<A, R>);
    });
  }

  /**
   * Our encoder for the library's API of one Produce version, announcing the first request of each
   * send. The library takes a send's sequence numbers (one snapshot for all its partitions) and only
   * then builds the batch options it hands to every request of that send and to each retry of them;
   * so the first request carrying options not seen before means that send's sequences are taken.
   */
  #signalling(libraryApi: ProduceApi): ProduceApi {
    let api = this.#apis.get(libraryApi.version);
    if (api) return api;
    const fast = fastProduceApi(libraryApi);
    const call = (...args: unknown[]): void => {
      const options = args[4];
      if (typeof options === 'object' && options !== null && !this.#dispatched.has(options)) {
        this.#dispatched.add(options);
        const resolve = this.#onDispatch;
        this.#onDispatch = null;
        resolve?.();
      }
      (fast as unknown as (...a: unknown[]) => void)(...args);
    };
    api = Object.assign(call, { async: fast.async, key: fast.key, version: fast.version }) as unknown as ProduceApi;
    this.#apis.set(libraryApi.version, api);
    return api;
  }
}

/**
 * Tells when a send's Produce request has taken its sequence numbers and gone to a connection —
 * before the broker acknowledges it. Call `nextDispatch()` right before the send.
 */
export interface DispatchSignal {
  nextDispatch(): Promise<void>;
}

/** The producer's dispatch signal, if it has one (our encoder in use). */
export function dispatchSignal(producer: Producer<string, string, string, string>): DispatchSignal | null {
  return producer instanceof SingleBufferProducer ? producer : null;
}

/** True when the library's encoder was asked for (CDC_FANOUT_KAFKA_ENCODER=library). */
export const useLibraryEncoder = (): boolean => process.env.CDC_FANOUT_KAFKA_ENCODER === 'library';

/** False when serial sends were asked for (CDC_FANOUT_KAFKA_PIPELINE=off: each send waits for its ack). */
export const pipelineRequested = (): boolean => process.env.CDC_FANOUT_KAFKA_PIPELINE !== 'off';

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
