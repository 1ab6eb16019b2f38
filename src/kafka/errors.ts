/**
 * Turns a Kafka client error (either client: @platformatic/kafka wraps broker answers in nested
 * AggregateErrors under "Producing messages failed.", kafkajs in KafkaJSProtocolError) into one
 * message that names the broker's error code and what to do about it. Every producer error path
 * goes through `KafkaOperationError`, so an operator never sees only the library's generic text.
 */
import { certificateVerifyFailure } from '../spec/tls.js';

interface ErrorLike {
  type?: unknown;
  apiId?: unknown;
  apiCode?: unknown;
  code?: unknown;
  name?: unknown;
  message?: unknown;
  serverErrorMessage?: unknown;
  originalError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** First value `pick` returns for the error or any error it wraps (aggregated errors, then the cause chain). */
export function findInError<T>(err: unknown, pick: (e: ErrorLike) => T | undefined, depth = 0): T | undefined {
  if (!err || typeof err !== 'object' || depth > 8) return undefined;
  const o = err as ErrorLike;
  const here = pick(o);
  if (here !== undefined) return here;
  if (Array.isArray(o.errors)) {
    for (const e of o.errors as unknown[]) {
      const found = findInError(e, pick, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return findInError(o.originalError ?? o.cause, pick, depth + 1);
}

const BROKER_CODE = /^[A-Z][A-Z0-9_]+$/;

/**
 * The broker error code of a (possibly wrapped) client error, e.g. MESSAGE_TOO_LARGE; '' if none.
 * @platformatic/kafka: `apiId`; kafkajs: `type`.
 */
export function brokerCode(err: unknown): string {
  return (
    findInError(err, (o) => {
      if (typeof o.apiId === 'string') return o.apiId;
      if (typeof o.type === 'string' && BROKER_CODE.test(o.type) && o.type !== 'UNKNOWN') return o.type;
      return undefined;
    }) ?? ''
  );
}

/** Distinct innermost messages of an error tree (what actually went wrong below the wrappers). */
function leafMessages(err: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (!err || typeof err !== 'object' || depth > 8) return out;
  const o = err as ErrorLike;
  const children = [...(Array.isArray(o.errors) ? (o.errors as unknown[]) : []), ...(o.cause ?? o.originalError ? [o.cause ?? o.originalError] : [])];
  if (children.length === 0) {
    if (typeof o.message === 'string' && o.message) out.add(o.message + (typeof o.serverErrorMessage === 'string' && o.serverErrorMessage ? ` (${o.serverErrorMessage})` : ''));
  } else {
    for (const c of children) leafMessages(c, out, depth + 1);
  }
  return out;
}

/** What to do about the broker codes a producer meets in practice. */
const REMEDIES: Readonly<Record<string, string>> = {
  MESSAGE_TOO_LARGE:
    "a record batch is larger than the topic's max.message.bytes (or the broker's message.max.bytes). Raise max.message.bytes on the topic (kafka-configs --alter --entity-type topics --entity-name <topic> --add-config max.message.bytes=<n>) or lower kafka max.request.size so batches are split below it; a single event larger than the limit is handled by the source's event.oversize.handling.mode",
  RECORD_LIST_TOO_LARGE: "the request's record list exceeds what the broker accepts: lower kafka max.request.size, or raise the broker's limits",
  INVALID_RECORD: 'the broker rejected a record (for a compacted topic every record needs a key): check the topic configuration',
  CORRUPT_MESSAGE: 'the broker found a record batch corrupt (CRC): report it; setting CDC_FANOUT_KAFKA_ENCODER=library switches to the client library\'s encoder',
  UNKNOWN_TOPIC_OR_PARTITION: 'the topic does not exist (deleted while running?); cdc-fanout creates its topics at start, so restart it, or create the topic',
  TOPIC_AUTHORIZATION_FAILED: 'the Kafka principal may not write the topic: grant it Write and Describe on the topic',
  CLUSTER_AUTHORIZATION_FAILED: 'the Kafka principal lacks a cluster permission (IdempotentWrite): grant it',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'the Kafka principal may not use the transactional id: grant it Write on TransactionalId cdc-fanout-<name>',
  NOT_ENOUGH_REPLICAS: "fewer in-sync replicas than the topic's min.insync.replicas: check the brokers",
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: "fewer in-sync replicas than the topic's min.insync.replicas: check the brokers",
  INVALID_TXN_STATE: 'the broker already ended the transaction (it outlived kafka.transaction.timeout.ms?): raise kafka.transaction.timeout.ms (and the broker\'s transaction.max.timeout.ms) or lower max.batch.size',
  INVALID_TRANSACTION_TIMEOUT: "kafka.transaction.timeout.ms is above the broker's transaction.max.timeout.ms: lower it or raise the broker setting",
  POLICY_VIOLATION: "a broker policy refused the request (create.topic.policy): ask the Kafka operator or create the topics by hand",
  REQUEST_TIMED_OUT: 'the brokers did not answer in time: check broker health, or raise request.timeout.ms',
  UNSUPPORTED_VERSION: 'the broker is too old for the request: Kafka ≥ 2.5 is required',
};

/** One line that names the broker code (or says there was none) and the remedy. */
export function describeKafkaError(err: unknown): { code: string; message: string } {
  const code = brokerCode(err);
  const detail = [...leafMessages(err)].slice(0, 3).join('; ') || String((err as Error | undefined)?.message ?? err);
  if (!code) return { code, message: `no broker error code (client-side failure: ${detail}); check that bootstrap.servers is reachable and the brokers are up` };
  const remedy = REMEDIES[code] ?? `see the Kafka protocol error codes for ${code}`;
  return { code, message: `broker error ${code}: ${detail} — ${remedy}` };
}

/** A failed Kafka operation, its message naming the broker code and the fix; the client error is the cause. */
export class KafkaOperationError extends Error {
  readonly brokerCode: string;
  constructor(operation: string, cause: unknown) {
    const d = describeKafkaError(cause);
    super(`Kafka ${operation} failed with ${d.message}`, { cause });
    this.name = 'KafkaOperationError';
    this.brokerCode = d.code;
  }
}

/**
 * When a connection failed because of the client's own TLS or SASL settings (the broker refused the
 * credentials, or its certificate does not verify against kafka.tls), the message saying which
 * setting to fix; undefined for anything else (a broker that is down stays retriable).
 * @platformatic/kafka wraps both in a retriable NetworkError, so they would be retried forever;
 * kafkajs (the sinks' client) fails with its own wording, without the setting to fix.
 */
export function connectionSettingsProblem(err: unknown): string | undefined {
  return findInError(err, (o) => {
    if (o.code === 'PLT_KFK_AUTHENTICATION' || o.apiId === 'SASL_AUTHENTICATION_FAILED' || o.type === 'SASL_AUTHENTICATION_FAILED' || o.name === 'KafkaJSSASLAuthenticationError') {
      return `the broker refused the SASL credentials (${String(o.serverErrorMessage ?? o.message)}): check kafka.sasl (mechanism, username, password)`;
    }
    if (o.apiId === 'UNSUPPORTED_SASL_MECHANISM' || o.apiId === 'ILLEGAL_SASL_STATE') return `the broker does not accept this SASL mechanism: check kafka.sasl.mechanism against the listener's sasl.enabled.mechanisms`;
    const unverified = certificateVerifyFailure(o);
    if (unverified) return `the broker's TLS certificate does not verify (${unverified}): check kafka.tls (ca, servername, mode)`;
    return undefined;
  });
}
