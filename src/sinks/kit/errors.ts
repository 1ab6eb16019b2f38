/**
 * Error classification shared by the sinks. The runtime's rule (src/sinks/sink.ts): a transient
 * failure is a retriable SinkError (the batch is retried with backoff, nothing skipped); a record the
 * target can never take is `rejected` (error policy / DLQ); anything else stops the sink.
 *
 *   HTTP status        class       what the sink does
 *   2xx                ok          done
 *   408, 429, 5xx      retry       retry with backoff (honour Retry-After where there is one)
 *   401, 403, 404, 405, config     not about the record: the url, credentials or privileges are
 *   407, 411, 415                  wrong — never dead-letter a record for it; retry (the operator
 *                                  fixes it) or stop, per sink, with the fix in the message
 *   3xx                config      redirects are not followed for writes: configure the final address
 *   other 4xx          reject      the target refuses this content: `rejected` → error policy
 */
import { certificateVerifyFailure } from '../../spec/tls.js';
import { SinkError } from '../sink.js';

export type StatusClass = 'ok' | 'retry' | 'config' | 'reject';

const CONFIG_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 405, 407, 411, 415]);

/** True for statuses that go away by themselves: 408, 429, 5xx (and 0: no answer at all). */
export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

export function httpStatusClass(status: number): StatusClass {
  if (status >= 200 && status < 300) return 'ok';
  if (isTransientStatus(status)) return 'retry';
  if (CONFIG_STATUSES.has(status) || (status >= 300 && status < 400)) return 'config';
  if (status >= 400 && status < 500) return 'reject';
  return 'retry';
}

/**
 * A TLS certificate that does not verify is a configuration problem, never transient: the
 * non-retriable SinkError naming the fix, or undefined when `error` is something else.
 */
export function tlsFailure(error: unknown, system: string, what: string, where = ''): SinkError | undefined {
  const unverified = certificateVerifyFailure(error);
  if (!unverified) return undefined;
  return new SinkError(`${system} ${what} failed: the server's TLS certificate${where ? ` at ${where}` : ''} does not verify (${unverified}); check the sink's tls (ca, servername, mode)`, { retriable: false, cause: error });
}
