/**
 * A local ClickHouse HTTP interface in front of chdb: a current ClickHouse engine (26.x) embedded
 * in-process (npm `chdb`). Every request is handed to one persistent chdb session whose data lives
 * in a directory of its own (MergeTree parts as on a server; tmpfs by default, see `path`), so the
 * SQL runs in real ClickHouse — this is a front, not a mock. It lets
 * the sink tests (which talk HTTP through @clickhouse/client) run against a modern engine next to
 * the stack's ClickHouse 18.16 (test/support/clickhouse-targets.ts).
 *
 * What it serves, as the server's HTTP handler does:
 * - `GET /ping`, `GET /` → `Ok.`
 * - the query from the `query` URL parameter and/or the POST body (`query` + "\n" + body, so an
 *   `INSERT … FORMAT X` in `query` takes the body as its data), gzip/deflate/br/zstd request bodies;
 * - `database`, `default_format`, `query_id`, `param_<name>` (query parameters), and every other
 *   URL parameter as a setting of this query only (applied with SET, reset to DEFAULT afterwards);
 * - the result in the query's FORMAT (else `default_format`, else TabSeparated) with
 *   `X-ClickHouse-Format`, `X-ClickHouse-Query-Id`, `X-ClickHouse-Timezone`,
 *   `X-ClickHouse-Summary` (read rows/bytes; written rows/bytes from the engine's InsertedRows/
 *   InsertedBytes counters), `X-ClickHouse-Server-Display-Name` and `X-ClickHouse-Server-Version`
 *   (this front's own header: the engine's version()); gzip when `enable_http_compression=1` and the
 *   client accepts it;
 * - errors with ClickHouse's text (`Code: N. DB::Exception: … (NAME) (version …)`), the
 *   `X-ClickHouse-Exception-Code` header and the server's HTTP status for the code (400 parse
 *   errors, 404 unknown table/database, … 500 otherwise; same table as the server's
 *   exceptionCodeToHTTPStatus).
 *
 * Known differences from a real server (none matter to the sink): no authentication (any user is
 * `default`), no HTTP sessions (`session_id` is refused), no multipart query parameters, no
 * ClickHouse-native `compress`/`decompress`; query parameters (`param_x`, applied with
 * `SET param_x`) stay set for later requests that use `{x:T}` without passing it (a server refuses
 * those); request bodies are read as UTF-8 text (text formats only); several statements in one
 * request are run instead of refused; requests run one at a time (one session: the SET/USE of one
 * request must not leak into the next).
 *
 * Run standalone: `npx tsx test/support/chdb-front.ts [--port 8124] [--path DIR] [--exit-with-stdin]`
 * prints one JSON line `{"url":…,"version":…,"path":…}` on stdout and serves until SIGTERM/SIGINT
 * (or, with --exit-with-stdin, until its stdin closes: the parent that started it is gone).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';

/**
 * chdb (ClickHouse 26.x in-process) is not an npm dependency of the project: its lockfile entries
 * name one prebuilt engine package per platform, and `npm ci` refuses a lockfile that lacks any of
 * them. scripts/setup.sh installs it into .tools/chdb (pinned there, like Node); this loads it.
 */
interface ChdbResult {
  readonly rowsRead: number;
  readonly bytesRead: number;
  bytes(): Uint8Array;
  text(): string;
}
interface ChdbSession {
  queryAsync(query: string, opts?: { format?: string }): Promise<ChdbResult>;
  close(): void;
}
export const CHDB_DIR = join(import.meta.dirname, '..', '..', '.tools', 'chdb');
function loadChdb(): { Session: new (path: string) => ChdbSession } {
  try {
    return createRequire(join(CHDB_DIR, 'package.json'))('chdb') as { Session: new (path: string) => ChdbSession };
  } catch (e) {
    throw new Error(
      `chdb (the ClickHouse 26.x engine the modern-ClickHouse tests run on) is not installed in ${CHDB_DIR}: run \`bash scripts/setup.sh\` (installs it), ` +
        `or run the ClickHouse tests against the server only with CDC_CLICKHOUSE_TARGETS=server (${(e as Error).message.split('\n')[0]})`,
    );
  }
}

/** URL parameters of the HTTP interface that are not settings. */
const HTTP_PARAMS = new Set(['query', 'database', 'default_format', 'query_id', 'user', 'password', 'quota_key', 'buffer_size', 'wait_end_of_query', 'role', 'stacktrace', 'session_timeout', 'session_check', 'close_session']);
/** Parameters this front refuses (it cannot honour them), with the reason. */
const UNSUPPORTED_PARAMS: Record<string, string> = {
  session_id: 'HTTP sessions are not supported by the chdb front',
  compress: 'ClickHouse-native response compression is not supported by the chdb front (use enable_http_compression)',
  decompress: 'ClickHouse-native request compression is not supported by the chdb front (use Content-Encoding)',
};

/** The server's HTTP status per exception name (ClickHouse src/Server/HTTP/exceptionCodeToHTTPStatus.cpp). */
const STATUS_BY_NAME: Record<string, number> = {
  REQUIRED_PASSWORD: 401,
  ...Object.fromEntries(['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED'].map((n) => [n, 403])),
  ...Object.fromEntries(
    ['BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE', 'CANNOT_PARSE_QUOTED_STRING', 'CANNOT_PARSE_DATE',
      'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER', 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN', 'UNKNOWN_ELEMENT_IN_AST',
      'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST', 'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR',
      'INCORRECT_DATA', 'TYPE_MISMATCH', 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'].map((n) => [n, 400]),
  ),
  ...Object.fromEntries(
    ['UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE', 'UNKNOWN_DATABASE', 'UNKNOWN_SETTING',
      'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION', 'UNKNOWN_FORMAT', 'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY',
      'UNKNOWN_ROLE'].map((n) => [n, 404]),
  ),
  QUERY_IS_TOO_LARGE: 413,
  NOT_IMPLEMENTED: 501,
  SOCKET_TIMEOUT: 503,
  CANNOT_OPEN_FILE: 503,
  CANNOT_SCHEDULE_TASK: 503,
  HTTP_LENGTH_REQUIRED: 411,
  TIMEOUT_EXCEEDED: 408,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

const JSON_FORMATS = /^JSON/;

export interface ChdbFront {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The engine's `SELECT version()`, e.g. 26.7.2.1. */
  readonly version: string;
  /** The session's data directory. */
  readonly path: string;
  close(): Promise<void>;
}

export interface ChdbFrontOptions {
  /** TCP port (0: any free port). */
  readonly port?: number;
  /**
   * Data directory (default: a new temp dir, removed on close, under CDC_CHDB_DATA_DIR, else
   * /dev/shm where it exists, else the OS temp dir). tmpfs by default because every INSERT writes a
   * MergeTree part: ~1 ms on tmpfs against 10–40 ms on this machine's shared disk.
   */
  readonly path?: string;
}

/** A failure of the request itself (not of the engine), reported like a server exception. */
class FrontError extends Error {
  constructor(readonly codeName: string, message: string) {
    super(message);
  }
}

interface EngineError {
  readonly code: number;
  readonly text: string;
}

function engineError(e: unknown): EngineError {
  const message = e instanceof Error ? e.message : String(e);
  const fromField = (e as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  const code = typeof fromField === 'number' ? fromField : Number(/^Code: (\d+)\./.exec(message)?.[1] ?? 1001);
  return { code, text: message };
}

/** Strips leading whitespace and comments, so the statement's first keyword can be looked at. */
function head(sql: string): string {
  return sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, '');
}

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const enc = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (enc === '' || enc === 'identity') return raw;
  if (enc === 'gzip') return promisify(zlib.gunzip)(raw);
  if (enc === 'deflate') return promisify(zlib.inflate)(raw);
  if (enc === 'br') return promisify(zlib.brotliDecompress)(raw);
  if (enc === 'zstd') return promisify(zlib.zstdDecompress)(raw);
  throw new FrontError('UNKNOWN_FORMAT', `Unknown Content-Encoding of the request body: ${enc}`);
}

export async function startChdbFront(opts: ChdbFrontOptions = {}): Promise<ChdbFront> {
  const ownDir = opts.path === undefined;
  const base = process.env.CDC_CHDB_DATA_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const path = opts.path ?? mkdtempSync(join(base, 'cdc-chdb-'));
  const { Session } = loadChdb();
  const session = new Session(path);
  const run = async (sql: string, format = 'TabSeparated') => session.queryAsync(sql, { format });

  const version = (await run('SELECT version()')).text().trim();
  const timezone = (await run('SELECT timezone()')).text().trim();
  // clickhouse-local's own defaults (implicit_select, …) back to the server's
  const changed = (await run("SELECT name FROM system.settings WHERE changed AND name NOT LIKE 'storage_file%'")).text().split('\n').filter(Boolean);
  if (changed.length > 0) await run(`SET ${changed.map((n) => `${n} = DEFAULT`).join(', ')}`);
  const names = new Map<number, string>(
    (await run('SELECT number, errorCodeToName(number) FROM numbers(2000) WHERE errorCodeToName(number) != \'\'')).text().split('\n').filter(Boolean)
      .map((l) => l.split('\t') as [string, string]).map(([n, name]) => [Number(n), name]),
  );
  const codeOf = (name: string): number => [...names].find(([, n]) => n === name)?.[0] ?? 1001;

  let current = 'default';
  // Invariant: one request at a time touches the session (its SET/USE are undone before the next).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f, f);
    queue = p.catch(() => undefined);
    return p;
  };
  const insertedCounters = async (): Promise<[number, number]> => {
    const t = (await run("SELECT event, value FROM system.events WHERE event IN ('InsertedRows', 'InsertedBytes')")).text();
    const m = new Map(t.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
    return [Number(m.get('InsertedRows') ?? 0), Number(m.get('InsertedBytes') ?? 0)];
  };

  async function execute(sql: string, database: string, settings: [string, string][], params: [string, string][], format: string) {
    if (database !== current) {
      await run(`USE ${'`' + database.replace(/`/g, '\\`') + '`'}`);
      current = database;
    }
    if (settings.length > 0) await run(`SET ${settings.map(([k, v]) => `${k} = ${quote(v)}`).join(', ')}`);
    // query parameters go in verbatim (the HTTP value is already the type's Escaped text, which
    // chdb's own binding would escape again); they cannot be unset afterwards (see the header)
    if (params.length > 0) await run(`SET ${params.map(([k, v]) => `param_${k} = ${quote(v)}`).join(', ')}`);
    try {
      const first = head(sql);
      const isInsert = /^INSERT\b/i.test(first);
      const before = isInsert ? await insertedCounters() : undefined;
      const result = await run(sql, format);
      const after = before ? await insertedCounters() : undefined;
      if (/^USE\b/i.test(first)) current = '';
      if (/^SET\b/i.test(first)) {
        // HTTP without a session: a SET lasts for its own request only
        const set = [...first.slice(3).matchAll(/(?:^|,)\s*(\w+)\s*=/g)].map((m) => m[1]);
        if (set.length > 0) await run(`SET ${set.map((n) => `${n} = DEFAULT`).join(', ')}`);
      }
      return { result, written: before && after ? [after[0] - before[0], after[1] - before[1]] : [0, 0] };
    } finally {
      if (settings.length > 0) await run(`SET ${settings.map(([k]) => `${k} = DEFAULT`).join(', ')}`).catch(() => undefined);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const queryId = url.searchParams.get('query_id') || randomUUID();
    const common = { 'X-ClickHouse-Server-Display-Name': 'chdb-front', 'X-ClickHouse-Server-Version': version, 'X-ClickHouse-Query-Id': queryId, 'X-ClickHouse-Timezone': timezone, 'Keep-Alive': 'timeout=10' };
    const fail = (code: number, text: string): void => {
      const name = names.get(code) ?? 'UNKNOWN_EXCEPTION';
      const message = `${text.includes(`(${name})`) ? text : `Code: ${code}. DB::Exception: ${text}. (${name})`} (version ${version})\n`;
      res.writeHead(STATUS_BY_NAME[name] ?? 500, { ...common, 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(code) });
      res.end(message);
    };
    try {
      if (url.pathname === '/ping' || url.pathname === '/replicas_status' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8', 'Keep-Alive': 'timeout=10' });
        res.end('Ok.\n');
        return;
      }
      if (url.pathname !== '/') throw new FrontError('BAD_ARGUMENTS', `There is no handler ${url.pathname} in the chdb front (only /, /ping)`);
      if (/^multipart\//i.test(req.headers['content-type'] ?? '')) throw new FrontError('NOT_IMPLEMENTED', 'multipart/form-data query parameters are not supported by the chdb front');
      const settings: [string, string][] = [];
      const params: [string, string][] = [];
      for (const [k, v] of url.searchParams) {
        if (UNSUPPORTED_PARAMS[k]) throw new FrontError('NOT_IMPLEMENTED', UNSUPPORTED_PARAMS[k]);
        if (HTTP_PARAMS.has(k)) continue;
        if (!/^\w+$/.test(k)) throw new FrontError('BAD_ARGUMENTS', `Invalid setting or parameter name ${JSON.stringify(k)} in the URL`);
        if (k.startsWith('param_')) params.push([k.slice(6), v]);
        else settings.push([k, v]);
      }
      const data = (await body(req)).toString('utf8');
      const fromUrl = url.searchParams.get('query') ?? '';
      const sql = fromUrl && data ? `${fromUrl}\n${data}` : fromUrl || data;
      if (head(sql) === '') throw new FrontError('SYNTAX_ERROR', 'Empty query');
      const explicit = /\bFORMAT\s+(\w+)\s*;?\s*$/i.exec(sql)?.[1];
      const format = explicit && !/^INSERT\b/i.test(head(sql)) ? explicit : url.searchParams.get('default_format') || 'TabSeparated';
      const database = url.searchParams.get('database') || 'default';
      const started = process.hrtime.bigint();
      const { result, written } = await serial(() => execute(sql, database, settings, params, format));
      const out = Buffer.from(result.bytes());
      const summary = {
        read_rows: String(result.rowsRead), read_bytes: String(result.bytesRead), written_rows: String(written[0]), written_bytes: String(written[1]),
        total_rows_to_read: '0', result_rows: '0', result_bytes: String(out.length), elapsed_ns: String(process.hrtime.bigint() - started),
      };
      const gzip = url.searchParams.get('enable_http_compression') === '1' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      res.writeHead(200, {
        ...common,
        'Content-Type': JSON_FORMATS.test(format) ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8',
        'X-ClickHouse-Format': format,
        'X-ClickHouse-Summary': JSON.stringify(summary),
        ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
      });
      res.end(gzip ? zlib.gzipSync(out) : out);
    } catch (e) {
      if (e instanceof FrontError) fail(codeOf(e.codeName), e.message);
      else {
        const { code, text } = engineError(e);
        fail(code, text);
      }
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(`Code: 1001. DB::Exception: chdb front failed: ${String(e)}. (STD_EXCEPTION)\n`);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    version,
    path,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue;
      session.close();
      if (ownDir) rmSync(path, { recursive: true, force: true });
    },
  };
}

// Standalone: one JSON line with the URL on stdout; serves until stdin closes (the parent died) or a signal.
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const port = Number(arg('port') ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a TCP port number (0 for any free port), got ${arg('port')}`);
    process.exit(2);
  }
  const path = arg('path');
  const front = await startChdbFront({ port, ...(path ? { path } : {}) });
  process.stdout.write(`${JSON.stringify({ url: front.url, version: front.version, path: front.path })}\n`);
  const stop = (): void => {
    front.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.argv.includes('--exit-with-stdin')) process.stdin.on('end', stop).resume();
}
