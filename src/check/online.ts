/**
 * The vocabulary of `cdc-fanout validate --online`: what a component's online check reports, and the
 * time bound every check connection runs under. A leaf module (imports nothing from the project), so
 * the source (src/source/check.ts), Kafka (src/kafka/check.ts) and each sink (src/sinks/<type>/check.ts)
 * declare their own check against it; src/config/online.ts runs them and the CLI prints the result.
 *
 * Online checks only read: they never create, alter or drop anything, commit no consumer offsets
 * (the offsets topic is read by a throwaway consumer group with a random id, as the source reads it
 * at start) and never initialise a transactional producer (that would fence a running daemon).
 */

/** error: `run` would fail, lose or corrupt data, or break the application; warning: worth fixing, `run` works. */
export type Severity = 'error' | 'warning';

/** A config path as the config loader locates it: ['sinks', 2, 'tables', 'public.users']. */
export type CheckPath = readonly (string | number)[];

export interface Finding {
  readonly severity: Severity;
  /** The config field the problem is about (located to file:line:column by the CLI), when there is one. */
  readonly path?: CheckPath;
  /** What is wrong, with the names and values involved. */
  readonly message: string;
  /** How to fix it (SQL to run, a config change, a service setting). */
  readonly fix?: string;
}

/** One component's result: what was reached (server and version) and what is wrong. */
export interface ComponentReport {
  /** "postgres", "kafka", or "sink <name> (<type>)". */
  readonly component: string;
  /** Where it connected, e.g. "127.0.0.1:5432/shop" (no credentials). */
  readonly target: string;
  /** Server version when it answered, e.g. "PostgreSQL 15.4"; null when unreachable. */
  readonly version: string | null;
  /** Short facts for the ok line, e.g. "4 tables captured". */
  readonly notes: readonly string[];
  readonly findings: readonly Finding[];
}

/** A column of a captured table, as read from the Postgres catalog. */
export interface CatalogColumn {
  readonly name: string;
  /** format_type() of the column, e.g. "character varying(200)". */
  readonly type: string;
  readonly generated: boolean;
}

export type RelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view' | 'foreign table' | 'sequence' | 'other';

/** A relation of the source database, as the online checks of the sinks need it. */
export interface CatalogTable {
  /** "schema.table". */
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly kind: RelationKind;
  /** Set when the relation is a partition (it is captured through its partitioned parent). */
  readonly partitionOf: string | null;
  readonly columns: readonly CatalogColumn[];
  readonly primaryKey: readonly string[];
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Columns of the replica identity: the primary key (default), the index (index), every column (full), none. */
  readonly identityColumns: readonly string[];
  /** Columns of the Kafka message key (message.key.columns, else the primary key or identity index); empty = null key. */
  readonly eventKey: readonly string[];
  /** Whether the source captures it (include/exclude lists; tables only). */
  readonly captured: boolean;
}

/** What the source check learnt about the database, for the sinks' column checks. */
export interface SourceCatalogView {
  /** Every relation of the database outside the system schemas, by "schema.table". */
  readonly relations: ReadonlyMap<string, CatalogTable>;
}

/** The default time bound of one check connection (`validate --online --timeout`). */
export const DEFAULT_CHECK_TIMEOUT_MS = 5000;

export class CheckTimeoutError extends Error {
  override readonly name = 'CheckTimeoutError';
}

/**
 * `work` bounded by `ms`: rejects with a CheckTimeoutError saying "<what> did not answer within N s"
 * when it takes longer. `cleanup` runs then (close the client so no socket keeps the process alive).
 */
export async function withDeadline<T>(what: string, ms: number, work: Promise<T>, cleanup?: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        void Promise.resolve(cleanup?.()).catch(() => undefined);
      } catch {
        // cleanup is best effort
      }
      reject(new CheckTimeoutError(`${what} did not answer within ${seconds(ms)}`));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

export const seconds = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`);

/** Node's network error codes in words (ECONNREFUSED → "connection refused"). */
export function networkReason(err: unknown): string {
  const codes: string[] = [];
  const walk = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || depth > 4) return;
    const o = e as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof o.code === 'string') codes.push(o.code);
    if (Array.isArray(o.errors)) for (const x of o.errors) walk(x, depth + 1);
    walk(o.cause, depth + 1);
  };
  walk(err, 0);
  // Some clients (Elasticsearch, ClickHouse) only keep the code in the message: "connect ECONNREFUSED 127.0.0.1:1".
  const text = err instanceof Error ? err.message : String(err);
  for (const m of text.matchAll(/\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET)\b/g)) codes.push(m[1] as string);
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused: nothing listens on that port',
    ENOTFOUND: 'host name not found (DNS)',
    EAI_AGAIN: 'host name lookup failed (DNS)',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server (wrong protocol or TLS setting?)',
  };
  if (err instanceof CheckTimeoutError) return 'no answer';
  for (const c of codes) if (words[c]) return words[c] as string;
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/** Whether the error is a network-level failure (the service was not reached at all). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof CheckTimeoutError) return true;
  return /connection refused|not found \(DNS\)|lookup failed|timed out|unreachable|connection reset/.test(networkReason(err));
}
