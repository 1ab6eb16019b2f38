/** Maps Elasticsearch client errors to SinkError (retriable or not) with messages a user can act on. */
import { errors } from '@elastic/elasticsearch';
import { isTransientStatus, tlsFailure } from '../kit/index.js';
import { SinkError } from '../sink.js';

/** The Elasticsearch error `type` of a response error (e.g. resource_already_exists_exception). */
export function responseErrorType(error: unknown): string | undefined {
  if (!(error instanceof errors.ResponseError)) return undefined;
  const body: unknown = error.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const inner = (body as { error?: unknown }).error;
  if (typeof inner === 'object' && inner !== null && typeof (inner as { type?: unknown }).type === 'string') {
    return (inner as { type: string }).type;
  }
  return undefined;
}

function responseReason(error: errors.ResponseError): string {
  const body: unknown = error.body;
  const inner = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof inner === 'object' && inner !== null) {
    const e = inner as { type?: unknown; reason?: unknown };
    return `${String(e.type ?? 'error')}: ${String(e.reason ?? '')}`;
  }
  return error.message;
}

/** True for failures that go away by themselves: server down, timeouts, 429, 5xx. */
export function isTransient(error: unknown): boolean {
  if (error instanceof errors.ConnectionError || error instanceof errors.TimeoutError || error instanceof errors.NoLivingConnectionsError) {
    return true;
  }
  if (error instanceof errors.RequestAbortedError || error instanceof errors.DeserializationError) return true;
  if (error instanceof errors.ResponseError) return isTransientStatus(error.statusCode ?? 0);
  return false;
}

/** Wraps any error from a request in a SinkError; `what` says which request failed. */
export function toSinkError(error: unknown, what: string, url: string): SinkError {
  if (error instanceof SinkError) return error;
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0;
    const hint =
      status === 401 ? ' — check auth.username/auth.password or auth.api.key' : status === 403 ? ' — the credentials lack the needed index privileges' : '';
    return new SinkError(`Elasticsearch ${what} failed with HTTP ${status}: ${responseReason(error)}${hint}`, {
      retriable: isTransient(error),
      cause: error,
    });
  }
  const tls = tlsFailure(error, 'Elasticsearch', what, url);
  if (tls) return tls;
  if (isTransient(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new SinkError(`Elasticsearch ${what} failed: cannot reach ${url} (${message}); will retry`, { retriable: true, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SinkError(`Elasticsearch ${what} failed: ${message}`, { retriable: false, cause: error });
}
