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
 * The same override tells a DispatchTracker which requests were handed to a connection: what lets
 * the source pipeline its sends without reordering them (src/kafka/producer.ts). A second hook,
 * `kMetadata`, is overridden to re-fetch a metadata answer that leaves out a topic asked for (a
 * library race that otherwise hangs a send; test/kafka/pipelined-send.test.ts shows it).
 *
 * Guard rails: if a library upgrade drops or renames the hook, `createSourceProducer` uses the plain
 * library producer (correct, slower), and the byte-for-byte test fails on an upgrade that changes
 * the encoding. `CDC_FANOUT_KAFKA_ENCODER=library` switches to the library's encoder (A/B, or if
 * ours were ever suspected).
 */
import { kGetApi, kMetadata, Producer, UserError, type API, type Callback, type CallbackWithPromise, type ClusterMetadata, type MetadataOptions, type ProducerOptions, type Serializer } from '@platformatic/kafka';
import { keyHash } from './murmur2.js';
import { fastProduceApi, type ProduceApi } from './produce-request.js';

type StringOptions = ProducerOptions<string, string, string, string>;

/**
 * Tells when every request of the next send has been handed to a connection (its sequence numbers
 * are taken then). The library takes one snapshot of a send's sequence numbers for all its
 * partitions, builds one batch-options object for the send, and hands it to each of the send's
 * requests (one per partition leader) and to every retry of them, each retry with the same message
 * array. So: the first request carrying options not seen before starts the next send; requests of
 * that send with message arrays not seen before add their messages; when they add up to the send's
 * message count, all of them were handed over. Retries of older sends are ignored.
 */
export class DispatchTracker {
  readonly #sends = new WeakSet<object>();
  #waiting: { readonly messages: number; readonly resolve: () => void; options: object | null; count: number; readonly requests: WeakSet<object> } | null = null;

  /** Resolves once requests holding `messages` messages of the next send were handed over. Call right before the send. */
  next(messages: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiting = { messages, resolve, options: null, count: 0, requests: new WeakSet() };
    });
  }

  /** The library hands one Produce request (batch options, its messages) to a connection. */
  handedOver(options: unknown, messages: unknown): void {
    const w = this.#waiting;
    if (!w || typeof options !== 'object' || options === null || !Array.isArray(messages)) return;
    if (w.options === null) {
      if (this.#sends.has(options)) return; // a retry of an older send
      this.#sends.add(options);
      w.options = options;
    } else if (w.options !== options) return;
    if (w.requests.has(messages)) return; // a retry of a request of this send
    w.requests.add(messages);
    w.count += messages.length;
    if (w.count >= w.messages) {
      this.#waiting = null;
      w.resolve();
    }
  }
}

class SingleBufferProducer extends Producer<string, string, string, string> {
  readonly dispatch = new DispatchTracker();
  readonly #apis = new Map<number, ProduceApi>();

  override [kGetApi]<A extends Array<unknown>, R>(name: string, callback: Callback<API<A, R>>): void {
    if (name !== 'Produce') {
      super[kGetApi](name, callback);
      return;
    }
    super[kGetApi]<A, R>(name, (error, api) => {
      if (error || !api) callback(error, api);
      else callback(null, this.#tracked(api as unknown as ProduceApi) as unknown as API<A, R>);
    });
  }

  /**
   * Metadata that names every topic asked for. The library fetches only the topics whose cached
   * entry expired and then answers from its cache; a refresh that clears the cache meanwhile (after
   * a stale-metadata error, e.g. on a retry of an earlier send — possible once sends overlap) leaves
   * a topic out, and its send path then throws a TypeError inside a callback: an uncaught exception,
   * and the send never settles. Such an answer is fetched again in full once; a topic still missing
   * fails the send with a UserError (the source stops and restarts from its offsets).
   */
  override [kMetadata](options: MetadataOptions, callback: CallbackWithPromise<ClusterMetadata>): void {
    const complete = (metadata: ClusterMetadata): boolean => (options.topics ?? []).every((t) => metadata.topics.get(t) !== undefined);
    super[kMetadata](options, (error, metadata) => {
      if (error || !metadata || complete(metadata)) {
        callback(error, metadata as ClusterMetadata);
        return;
      }
      super[kMetadata]({ ...options, forceUpdate: true }, (again, full) => {
        if (again || !full || complete(full)) callback(again, full as ClusterMetadata);
        else callback(new UserError(`Kafka metadata lacks topic(s) ${(options.topics ?? []).filter((t) => !full.topics.get(t)).join(', ')}.`), undefined as unknown as ClusterMetadata);
      });
    });
  }

  /** Our encoder for one Produce version of the library, telling the tracker of each request it is handed. */
  #tracked(libraryApi: ProduceApi): ProduceApi {
    let api = this.#apis.get(libraryApi.version);
    if (api) return api;
    const fast = fastProduceApi(libraryApi);
    // (connection, acks, timeout, messages, options, callback) as the library calls it.
    const call = (...args: unknown[]): void => {
      this.dispatch.handedOver(args[4], args[3]);
      (fast as unknown as (...a: unknown[]) => void)(...args);
    };
    api = Object.assign(call, { async: fast.async, key: fast.key, version: fast.version }) as unknown as ProduceApi;
    this.#apis.set(libraryApi.version, api);
    return api;
  }
}

/** The producer's dispatch tracker, if it has one (our encoder in use). */
export function dispatchTracker(producer: Producer<string, string, string, string>): DispatchTracker | null {
  return producer instanceof SingleBufferProducer ? producer.dispatch : null;
}

/** True when the library's encoder was asked for (CDC_FANOUT_KAFKA_ENCODER=library). */
export const useLibraryEncoder = (): boolean => process.env.CDC_FANOUT_KAFKA_ENCODER === 'library';

/**
 * True when pipelined sends were asked for (CDC_FANOUT_KAFKA_PIPELINE=on; opt-in, off by default).
 * Why not the default yet: when a request fails with a retriable error (NOT_ENOUGH_REPLICAS after a
 * broker stall, a leader change), the broker refuses the later requests already in flight with
 * OUT_OF_ORDER_SEQUENCE_NUMBER, which the library does not retry (the Java client does): the send
 * fails, the source stops and restarts from its offsets — no loss, no duplicate, but a restart per
 * broker hiccup where serial sends ride it out (test/source/kafka-outage.test.ts failed 2 of ~30 runs with it
 * on; docs/benchmarks.md).
 */
export const pipelineRequested = (): boolean => process.env.CDC_FANOUT_KAFKA_PIPELINE === 'on';

/** True when a source producer made now pipelines its sends: asked for, and our encoder (whose hook tracks dispatch) in use. */
export const sendsPipelined = (): boolean => pipelineRequested() && !useLibraryEncoder() && singleBufferEncoderAvailable();

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
