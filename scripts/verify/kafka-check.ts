/**
 * Reads every data topic of the verify pipeline from the beginning with a fresh `read_committed`
 * consumer (kafkajs directly, none of src/kafka) and counts, per event position — the
 * `cdc.commit_lsn` + `cdc.seq` headers, with the record key and op — how often it occurs. An event
 * seen twice is a duplicate.
 */
import { stackKafka } from '../stack/kafka-client.js';

export interface KafkaCheck {
  records: number;
  /** Non-tombstone records by op. */
  byOp: Record<string, number>;
  tombstones: number;
  /** Extra copies of a position already seen (events and tombstones counted separately). */
  duplicates: number;
  /** Records without the position headers (cannot be checked). */
  withoutPosition: number;
  /** Change events (c/u/d) the load committed but Kafka does not hold (expected − distinct). */
  missingChangeEvents: number;
  examples: string[];
}

export async function checkKafka(brokers: readonly string[], topics: readonly string[], expectedChangeEvents: number, minRecords: number, timeoutMs = 180_000): Promise<KafkaCheck> {
  const kafka = stackKafka({ clientId: 'cdc-fanout-verify', brokers: [...brokers] });
  const consumer = kafka.consumer({ groupId: `cdc-fanout-verify-${process.pid}-${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 250 });
  const seen = new Map<string, number>();
  const res: KafkaCheck = { records: 0, byOp: {}, tombstones: 0, duplicates: 0, withoutPosition: 0, missingChangeEvents: 0, examples: [] };
  const distinctChanges = new Set<string>();
  let lastAt = Date.now();
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, message }) => {
        lastAt = Date.now();
        res.records++;
        const lsn = message.headers?.['cdc.commit_lsn']?.toString();
        const seq = message.headers?.['cdc.seq']?.toString();
        const tomb = message.value === null;
        let op = 'tombstone';
        if (message.value === null) res.tombstones++;
        else {
          // schemas.enable wraps the envelope in {schema, payload}
          const v = JSON.parse(message.value.toString()) as { op?: unknown; payload?: { op?: unknown } };
          op = String(v.op ?? v.payload?.op);
          res.byOp[op] = (res.byOp[op] ?? 0) + 1;
        }
        if (lsn === undefined || seq === undefined) {
          res.withoutPosition++;
          return;
        }
        // One change can give two events at one position (a primary-key update: delete of the old
        // key, create of the new), so an event is identified by topic, key, position and kind.
        const pos = `${topic}|${message.key?.toString() ?? ''}|${lsn}|${seq}|${tomb ? 't' : op}`;
        const n = (seen.get(pos) ?? 0) + 1;
        seen.set(pos, n);
        if (n > 1) {
          res.duplicates++;
          if (res.examples.length < 5) res.examples.push(`${topic} position ${lsn}/${seq} (${op}) seen ${n} times (offset ${message.offset})`);
        }
        if (!tomb && op !== 'r') distinctChanges.add(pos);
      },
    });
    const deadline = Date.now() + timeoutMs;
    // Until at least the records the load implies are read, then until 5 s pass without a new one.
    while (Date.now() < deadline && (res.records < minRecords || Date.now() - lastAt < 5000)) await new Promise((r) => setTimeout(r, 250));
  } finally {
    await consumer.disconnect();
  }
  res.missingChangeEvents = Math.max(0, expectedChangeEvents - distinctChanges.size);
  if (distinctChanges.size > expectedChangeEvents) res.examples.push(`${distinctChanges.size - expectedChangeEvents} more distinct change events than the load committed`);
  return res;
}
