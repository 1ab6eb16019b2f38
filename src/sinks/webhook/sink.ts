/**
 * HTTP webhook sink: POSTs change events as JSON to a receiver, built only on the sink SDK.
 *
 * Delivery (per partition batch handed over by the runtime; partitions run concurrently):
 *   - Tombstones are not sent (a delete event carries the deletion). Every other record becomes one
 *     event with an idempotency key `id = "<topic>/<partition>/<offset>"` — the record's position in
 *     Kafka, identical on every replay of that record.
 *   - Ordering invariant: a key's events are sent in offset order and a later one is only sent after
 *     the earlier one was acknowledged (2xx) or rejected (4xx). With request.concurrency > 1 the batch
 *     is split into lanes by key hash (a key always in the same lane, each lane sequential); a keyless
 *     event (truncate, logical message) is a barrier: every lane drains before it is sent alone, and
 *     nothing after it starts before it is acknowledged. write() returns only when every lane is done,
 *     and the runtime sends a partition's next batch only after that, so batches never overlap.
 *   - 2xx: delivered. 5xx, 429, 408, timeouts, connection/TLS errors: re-sent with exponential backoff
 *     and jitter, at least Retry-After when the receiver sends one, up to retry.max.attempts; then a
 *     retriable SinkError hands the batch back to the runtime, which retries it (errors.retry.*)
 *     forever — the partition waits, nothing is skipped. Already acknowledged events of the batch are
 *     sent again then: duplicates with the same id.
 *   - Other 4xx: the receiver refuses the content. A multi-event POST is re-sent one event at a time
 *     (in order) so only the events the receiver refuses are returned as rejected → the runtime's
 *     error policy (dead-letter topic, skip, or stop). Exceptions that no single event causes —
 *     401/403/404/405/407/411/415 — are configuration problems (credentials, URL): they are retried
 *     like a 5xx with the status in the error, never dead-lettered.
 * Offsets: the receiver has no transactional store, so the sink uses the runtime's default store
 * (src/sinks/runtime/kafka-group-offsets.ts): Kafka group offsets committed after the POSTs were
 * acknowledged — at-least-once, duplicates only with the same id; receivers dedupe by it.
 */
import { createHash } from 'node:crypto';
import type { AgentOptions } from 'node:https';
import { nodeTlsOptions } from '../../spec/tls.js';
import type { Logger } from '../../observability/logger.js';
import { backoffDelay } from '../runtime/backoff.js';
import type { ClosableOffsetStore } from '../runtime/kafka-group-offsets.js';
import { chunkBy, httpStatusClass } from '../kit/index.js';
import { SinkError, type PartitionOffset, type RejectedRecord, type Sink, type SinkBatch, type SinkRecord, type TopicPartition, type WriteResult } from '../sink.js';
import { createPoster, PostFailed, retryAfterMs, type PostAnswer, type Poster } from './http.js';
import { signBody } from './signature.js';
import type { WebhookSinkConfig } from './spec.js';

/** One change event as the receiver gets it (inside `{"events": [...]}`). */
export interface WebhookEvent {
  /** Idempotency key: `<topic>/<partition>/<offset>`, stable across replays. */
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Source commit LSN (decimal) and ordinal in the transaction: the event's version, increasing per key. */
  readonly commit_lsn: string;
  readonly seq: number;
  readonly op: string;
  readonly key: unknown;
  readonly before: unknown;
  readonly after: unknown;
  readonly source: unknown;
}

/** The receiver refused an event (4xx); its message goes to the dead-letter record. */
export class WebhookRejectedError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'WebhookRejectedError';
    this.status = status;
  }
}

export function eventOf(r: SinkRecord): WebhookEvent {
  return {
    id: `${r.topic}/${r.partition}/${r.offset}`,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    commit_lsn: r.position.commitLsn.toString(),
    seq: r.position.seq,
    op: r.op ?? '',
    key: r.key,
    before: r.before,
    after: r.after,
    source: r.source,
  };
}

interface Pending {
  readonly record: SinkRecord;
  readonly json: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class WebhookSink implements Sink {
  private poster: Poster | undefined;
  private closing = false;

  constructor(
    private readonly config: WebhookSinkConfig,
    private readonly offsets: ClosableOffsetStore,
    private readonly log: Logger,
  ) {}

  open(): Promise<void> {
    this.closing = false;
    if (this.poster) return Promise.resolve();
    const c = this.config;
    let tls: AgentOptions | undefined;
    if (/^https:/i.test(c.url)) {
      try {
        // Files are read here, i.e. at every (re)start, so a rotated certificate is picked up.
        tls = nodeTlsOptions(c.tls ?? { mode: 'verify-full' });
      } catch (e) {
        // A file that vanished or was replaced by garbage since validate: retried (it may be rotated back), loudly.
        throw new SinkError(`webhook tls: ${(e as Error).message}`, { retriable: true, cause: e });
      }
    }
    this.poster = createPoster(c.url, tls);
    return Promise.resolve();
  }

  loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    return this.offsets.load(partitions);
  }

  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.offsets.commit(offsets);
  }

  resetOffsets(to: readonly PartitionOffset[]): Promise<void> {
    return this.offsets.reset(to);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.poster?.close();
    this.poster = undefined;
    await this.offsets.close();
  }

  async write(batch: SinkBatch): Promise<WriteResult> {
    const rejected: RejectedRecord[] = [];
    const lanes = this.config['request.concurrency'];
    let keyed: Pending[] = [];
    const flushKeyed = async (): Promise<void> => {
      if (keyed.length === 0) return;
      const byLane: Pending[][] = Array.from({ length: lanes }, () => []);
      for (const p of keyed) byLane[lanes === 1 ? 0 : laneOf(p.record, lanes)]!.push(p);
      keyed = [];
      // allSettled: write() returns only when no request of this batch is in flight any more.
      const results = await Promise.allSettled(byLane.filter((l) => l.length > 0).map((l) => this.sendLane(l, rejected)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    };
    for (const record of batch.records) {
      if (record.op === null) continue; // tombstone
      const p: Pending = { record, json: JSON.stringify(eventOf(record)) };
      if (record.key === null || record.op === 't') {
        // Barrier (a truncate has key {} on a compacted topic, null elsewhere): everything before it is acknowledged first, nothing after it is sent before it.
        await flushKeyed();
        await this.sendLane([p], rejected);
      } else {
        keyed.push(p);
      }
    }
    await flushKeyed();
    return { rejected, staleSkipped: 0 };
  }

  /** Sends a lane's events in order, in POSTs of at most request.max.events / request.max.bytes. */
  private async sendLane(events: readonly Pending[], rejected: RejectedRecord[]): Promise<void> {
    const maxEvents = this.config['request.max.events'];
    const maxBytes = this.config['request.max.bytes'];
    // `{"events":[…]}` is 12 bytes around the events; each event adds its JSON and a comma.
    for (const group of chunkBy(events, { maxItems: maxEvents, maxBytes, overheadBytes: 12 }, (e) => Buffer.byteLength(e.json) + 1)) {
      const refused = await this.deliver(group);
      if (refused === undefined) continue;
      if (group.length === 1) {
        rejected.push({ record: group[0]!.record, error: refused });
        continue;
      }
      // The receiver refused the POST: find the events it refuses, one at a time, in order.
      for (const one of group) {
        const r = await this.deliver([one]);
        if (r) rejected.push({ record: one.record, error: r });
      }
    }
  }

  /**
   * POSTs the events until the receiver answers 2xx (→ undefined) or refuses them with a 4xx
   * (→ the error). Transient failures are retried here; after retry.max.attempts a retriable
   * SinkError goes up to the runtime.
   */
  private async deliver(events: readonly Pending[]): Promise<WebhookRejectedError | undefined> {
    const c = this.config;
    const body = Buffer.from(`{"events":[${events.map((e) => e.json).join(',')}]}`);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'cdc-fanout-webhook' };
    if (c['signature.secret'] !== undefined) headers[c['signature.header'].toLowerCase()] = signBody(c['signature.secret'], body);
    const first = events[0]!.record;
    const what = `POST of ${events.length} event(s) ${first.topic}/${first.partition}@${first.offset}${events.length > 1 ? `..${events[events.length - 1]!.record.offset}` : ''} to ${redactUrl(c.url)}`;
    for (let attempt = 1; ; attempt++) {
      if (this.closing || !this.poster) throw new SinkError(`${what}: sink closing`, { retriable: true });
      let answer: PostAnswer | undefined;
      let problem: string;
      try {
        answer = await this.poster.post(body, headers, c['request.timeout.ms']);
        const s = answer.status;
        const cls = httpStatusClass(s);
        if (cls === 'ok') return undefined;
        problem = `receiver answered ${s}${answer.excerpt ? `: ${answer.excerpt}` : ''}`;
        if (cls === 'reject') return new WebhookRejectedError(s, `${what}: ${problem}`);
        if (cls === 'config') {
          problem +=
            s >= 300 && s < 400
              ? ' (redirects are not followed for POST: set url to the final address)'
              : ` (${s} is not about one event: check the sink's url, the receiver's credentials/route, or the receiver itself)`;
        }
      } catch (e) {
        if (!(e instanceof PostFailed)) throw e;
        problem = `request failed: ${e.message}`;
      }
      if (attempt >= c['retry.max.attempts']) {
        throw new SinkError(`${what}: ${problem} (after ${attempt} attempts; the runtime retries the batch)`, { retriable: true });
      }
      const backoff = backoffDelay(attempt, { initialMs: c['retry.initial.backoff.ms'], maxMs: c['retry.max.backoff.ms'], jitter: c['retry.jitter'] });
      const asked = retryAfterMs(answer?.retryAfter);
      const delay = asked === undefined ? backoff : Math.max(backoff, Math.min(asked, c['retry.after.max.ms']));
      this.log.warn({ attempt, delayMs: delay, retryAfter: answer?.retryAfter, err: problem }, `webhook ${what} failed; retrying`);
      const until = Date.now() + delay;
      while (Date.now() < until) {
        if (this.closing) throw new SinkError(`${what}: sink closing`, { retriable: true });
        await sleep(Math.min(250, until - Date.now()));
      }
    }
  }
}

/** Lane of a keyed record: a stable hash of its key, so a key always takes the same lane. */
function laneOf(r: SinkRecord, lanes: number): number {
  return createHash('md5').update(JSON.stringify(r.key)).digest().readUInt32BE(0) % lanes;
}

/** The URL without credentials or query (which may carry tokens), for messages. */
function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
