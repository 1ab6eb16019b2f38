/**
 * Worker-thread side of ThreadedProducer (src/kafka/producer-thread.ts): owns one
 * TransactionalProducer and runs the calls the source thread posts, one at a time, in order.
 * Replies `{ id }` or `{ id, error }`; log lines go to the parent as JSON text.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { KafkaConfig } from './config.js';
import { isFencedError, TransactionalProducer } from './producer.js';
import { unpackRecords, type PackedRecords } from './record-pack.js';

export interface WorkerInput {
  readonly config: KafkaConfig;
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly logLevel: string;
}

export type Call = { readonly id: number; readonly op: 'connect' | 'commit' | 'abort' | 'close' } | { readonly id: number; readonly op: 'send'; readonly packed: PackedRecords };

export type Reply = { readonly id: number; readonly error?: { readonly message: string; readonly fenced: boolean; readonly stack?: string } } | { readonly log: string };

const port = parentPort;
if (!port) throw new Error('producer-worker must run in a worker thread');
const input = workerData as WorkerInput;
const logger = pino({ level: input.logLevel }, { write: (line: string) => port.postMessage({ log: line } satisfies Reply) });
const producer = new TransactionalProducer(input.config, { transactionalId: input.transactionalId, transactionTimeoutMs: input.transactionTimeoutMs, logger });

let chain: Promise<void> = Promise.resolve();
port.on('message', (call: Call) => {
  chain = chain.then(async () => {
    try {
      if (call.op === 'send') await producer.sendEncoded(unpackRecords(call.packed));
      else await producer[call.op]();
      port.postMessage({ id: call.id } satisfies Reply);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
      port.postMessage({ id: call.id, error: { message: `${err.message}${cause}`, fenced: isFencedError(e), stack: err.stack } } satisfies Reply);
    }
    if (call.op === 'close') port.close();
  });
});
