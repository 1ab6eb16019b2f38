/**
 * The check every event passes before the Publisher: does it fit its topic on its own? A record
 * batch holding just this record must stay within the topic's limit (min of kafka
 * max.request.size and the topic's max.message.bytes); otherwise the broker would answer
 * MESSAGE_TOO_LARGE for every retry, forever. event.oversize.handling.mode decides:
 *  - fail: throw OversizeEventError (table, key, size, limit, how to fix). The source goes FAILED
 *    with it; nothing was skipped, so after the fix a restart resumes at the same position.
 *  - truncate: cut the largest string values (src/events/truncate.ts) and add the cdc.truncated
 *    header; if even that cannot make it fit (e.g. a huge key), fail as above.
 *  - skip: drop the record, log table + key, count it. The change's position still goes into the
 *    offsets record of its transaction (the Publisher's bookkeeping does not depend on records).
 *
 * Invariant: every record this returns has singleRecordBatchSize ≤ its topic's batch limit, so the
 * producer's size-based split can always place it (src/kafka/record-size.ts).
 */
import type { EventRecord } from '../events/record.js';
import { TRUNCATED_HEADER, truncateRecord } from '../events/truncate.js';
import { recordSizeBound, RECORD_BATCH_OVERHEAD } from '../kafka/record-size.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { oversizeHandlingModes } from './config.js';

export type OversizeMode = (typeof oversizeHandlingModes)[number];

export interface OversizeLimits {
  /** Largest record batch for the topic (bytes). */
  batchLimit(topic: string): number;
  /** The topic's own max.message.bytes (for the error message). */
  maxMessageBytes(topic: string): number;
}

const clip = (s: string | null, n = 200): string => (s === null ? 'null' : s.length > n ? `${s.slice(0, n)}…` : s);
const fmt = (n: number): string => n.toLocaleString('en-US');

export class OversizeEventError extends Error {
  constructor(
    readonly table: string,
    readonly topic: string,
    readonly key: string | null,
    readonly size: number,
    readonly limit: number,
    detail: string,
  ) {
    super(
      `event too large for Kafka: table ${table}, key ${clip(key)}: ${fmt(size)} bytes as a record batch, but topic ${topic} accepts at most ${fmt(limit)} bytes${detail}. ` +
        `Fix: raise the topic's max.message.bytes (kafka-configs --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=<n>) and kafka max.request.size to at least ${fmt(size + 1024)}, ` +
        'or set event.oversize.handling.mode to "truncate" or "skip"; then restart. Nothing was skipped: the source resumes at this event.',
    );
    this.name = 'OversizeEventError';
  }
}

export class OversizeGuard {
  /** Sum of the size bounds of the records the last `check` returned (the Publisher's byte count). */
  lastBytes = 0;

  constructor(
    private readonly mode: OversizeMode,
    private readonly limits: OversizeLimits,
    private readonly maxRequestSize: number,
    private readonly pipeline: string,
    private readonly logger: Logger,
  ) {}

  /** The records of one change of table `rel` (null: a logical decoding message), ready to publish (see the module comment). */
  check(records: EventRecord[], rel: { readonly schema: string; readonly table: string } | null): EventRecord[] {
    let bytes = 0;
    let out: EventRecord[] | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as EventRecord;
      const size = recordSizeBound(r);
      const limit = this.limits.batchLimit(r.topic);
      if (RECORD_BATCH_OVERHEAD + size <= limit) {
        bytes += size;
        out?.push(r);
        continue;
      }
      out ??= records.slice(0, i);
      const fixed = this.oversize(r, RECORD_BATCH_OVERHEAD + size, limit, rel ? `${rel.schema}.${rel.table}` : '(logical decoding message)');
      if (fixed) {
        bytes += recordSizeBound(fixed);
        out.push(fixed);
      }
    }
    this.lastBytes = bytes;
    return out ?? records;
  }

  private oversize(r: EventRecord, size: number, limit: number, table: string): EventRecord | null {
    const detail = (): string => {
      const own = this.limits.maxMessageBytes(r.topic);
      return own <= this.maxRequestSize ? ` (its max.message.bytes)` : ` (kafka max.request.size; the topic's max.message.bytes is ${fmt(own)})`;
    };
    if (this.mode === 'skip') {
      metrics.sourceEventsOversize.inc({ pipeline: this.pipeline, table, action: 'skipped' });
      this.logger.warn({ table, topic: r.topic, key: clip(r.key), size, limit }, 'event larger than the topic accepts: skipped (event.oversize.handling.mode=skip); consumers never see it');
      return null;
    }
    if (this.mode === 'truncate') {
      // Room left for the value: the limit minus everything else in the batch, minus the header.
      const valueBytes = r.value === null ? 0 : Buffer.byteLength(r.value, 'utf8');
      let reserve = 10 + TRUNCATED_HEADER.length + 64;
      for (let attempt = 0; attempt < 3; attempt++) {
        const t = truncateRecord(r, limit - (size - valueBytes) - reserve);
        if (!t) break;
        const newSize = RECORD_BATCH_OVERHEAD + recordSizeBound(t.record);
        if (newSize <= limit) {
          metrics.sourceEventsOversize.inc({ pipeline: this.pipeline, table, action: 'truncated' });
          this.logger.warn({ table, topic: r.topic, key: clip(r.key), size, limit, fields: t.fields }, 'event larger than the topic accepts: truncated (event.oversize.handling.mode=truncate)');
          return t.record;
        }
        reserve += newSize - limit;
      }
      throw new OversizeEventError(table, r.topic, r.key, size, limit, `${detail()}, and truncating its string values cannot make it fit (key or other fields too large)`);
    }
    throw new OversizeEventError(table, r.topic, r.key, size, limit, detail());
  }
}
