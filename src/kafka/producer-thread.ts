/**
 * ThreadedProducer: the source's transactional producer on its own worker thread.
 *
 * Why: on the source thread, encoding Kafka record batches (UTF-8, varints, CRC32C, request
 * buffers) and its garbage took about half of the CPU at full speed (bench:source profile), while
 * the machine's other core had room. Here the source thread only decodes WAL and builds events;
 * the records are handed over (structured clone) and encoded and sent on the producer thread.
 * Same contract as TransactionalProducer: calls run strictly in order; errors come back with their
 * message; a fenced producer raises ProducerFencedError. The worker's heap is capped
 * (`resourceLimits`), so its garbage cannot grow the process without bound; running out is an error
 * like a lost connection (the source stops and recovers from the offsets topic).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../observability/logger.js';
import type { KafkaConfig } from './config.js';
import { ProducerFencedError, TransactionalProducer, type KafkaRecord, type TxProducer } from './producer.js';
import type { Call, Reply, WorkerInput } from './producer-worker.js';
import { packRecords, type PackedRecords } from './record-pack.js';

export interface ThreadedProducerOptions {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly logger?: Logger;
  /** Old-generation heap cap of the producer thread, MB. */
  readonly heapMb?: number;
}

type Pending = { resolve: () => void; reject: (e: Error) => void };
type CallBody = { op: 'connect' | 'commit' | 'abort' | 'close' } | { op: 'send'; packed: PackedRecords };

/** `kafka.producer.thread`: auto = on with 2 or more CPUs available to this process. */
export function useProducerThread(setting: 'auto' | 'on' | 'off'): boolean {
  return setting === 'on' || (setting === 'auto' && availableParallelism() >= 2);
}

/** The source's producer: on its own thread or in this one, per `kafka.producer.thread`. */
export function createTxProducer(config: KafkaConfig, setting: 'auto' | 'on' | 'off', opts: ThreadedProducerOptions): TxProducer {
  return useProducerThread(setting) ? new ThreadedProducer(config, opts) : new TransactionalProducer(config, opts);
}

/** URL of tsx's ESM API, resolved from `from` through tsx's own exports map (works under vitest too, which lacks import.meta.resolve). */
function tsxEsmApi(from: string): string {
  const pkgJson = createRequire(fileURLToPath(from)).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const rel = pkg.exports['./esm/api']?.import?.default;
  if (!rel) throw new Error(`tsx at ${pkgJson} has no ESM API export; run the built daemon (npm run build) instead`);
  return pathToFileURL(join(dirname(pkgJson), rel)).href;
}

/** Starts the worker: the compiled .js directly, or the .ts source through tsx (development). */
function startWorker(workerData: WorkerInput, heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb };
  const self = import.meta.url;
  if (self.endsWith('.js')) return new Worker(new URL('./producer-worker.js', self), { workerData, resourceLimits });
  const entry = new URL('./producer-worker.ts', self).href;
  // tsx resolved from this file (not from the working directory), then the worker entry through it.
  const tsx = tsxEsmApi(self);
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData, resourceLimits });
}

export class ThreadedProducer implements TxProducer {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private open = false;
  private dead: Error | null = null;

  constructor(config: KafkaConfig, private readonly opts: ThreadedProducerOptions) {
    const log = opts.logger;
    this.worker = startWorker(
      { config, transactionalId: opts.transactionalId, transactionTimeoutMs: opts.transactionTimeoutMs, logLevel: log?.level ?? 'silent' },
      opts.heapMb ?? 128,
    );
    this.worker.on('message', (m: Reply) => {
      if ('log' in m) return this.forwardLog(m.log);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!m.error) return p.resolve();
      const cause = Object.assign(new Error(m.error.message), { stack: m.error.stack });
      p.reject(m.error.fenced ? new ProducerFencedError(opts.transactionalId, cause) : cause);
    });
    this.worker.on('error', (e: Error) => this.die(
      (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new Error(`the Kafka producer thread ran out of memory (heap limit ${opts.heapMb ?? 128} MB); the source restarts and recovers from the offsets topic`, { cause: e })
        : new Error(`the Kafka producer thread failed: ${e.message}`, { cause: e }),
    ));
    this.worker.on('exit', (code) => this.die(new Error(`the Kafka producer thread exited (code ${code})`)));
  }

  get inTransaction(): boolean {
    return this.open;
  }

  async connect(): Promise<void> {
    await this.call({ op: 'connect' });
  }

  async send(records: readonly KafkaRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.open = true;
    await this.call({ op: 'send', packed: packRecords(records) });
  }

  async commit(): Promise<void> {
    if (!this.open) return;
    await this.call({ op: 'commit' });
    this.open = false;
  }

  async abort(): Promise<void> {
    const wasOpen = this.open;
    this.open = false;
    if (wasOpen && !this.dead) await this.call({ op: 'abort' }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.open = false;
    if (!this.dead) await this.call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }

  private call(body: CallBody): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const call = { id, ...body } as Call;
      this.worker.postMessage(call, call.op === 'send' ? [call.packed.meta.buffer as ArrayBuffer, call.packed.data.buffer as ArrayBuffer] : []);
    });
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private forwardLog(line: string): void {
    const log = this.opts.logger;
    if (!log) return;
    try {
      const { level, msg, time: _time, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown> & { level: number; msg?: string };
      const name = level >= 50 ? 'error' : level >= 40 ? 'warn' : level >= 30 ? 'info' : 'debug';
      log[name]({ thread: 'kafka-producer', ...rest }, msg ?? '');
    } catch {
      log.warn({ thread: 'kafka-producer' }, line);
    }
  }
}
