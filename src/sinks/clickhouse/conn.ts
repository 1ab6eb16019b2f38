/**
 * Thin layer over @clickhouse/client: raw TabSeparated inserts and reads (work on 18.16 and 24.x),
 * and error classification — transport failures and overload codes are retriable `SinkError`s, data
 * errors are reported as `DataError` so the sink can isolate the bad rows.
 */
import https from 'node:https';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { nodeTlsOptions, type TlsSettings } from '../../spec/tls.js';
import { tlsFailure } from '../kit/index.js';
import { SinkError } from '../sink.js';
import { unescapeTsv } from './encode.js';

/** Server codes that mean "try again later" (overload, timeouts, network, read-only replica). */
const RETRIABLE_CODES = new Set(['3', '32', '159', '160', '164', '202', '203', '209', '210', '225', '236', '241', '242', '252', '319', '394', '425', '439', '999', '1000']);
/** Server codes that mean "this data cannot be inserted" (parse/convert/overflow). */
const DATA_CODES = new Set(['6', '26', '27', '38', '41', '53', '69', '70', '72', '117', '131', '349', '407', '33', '190']);

/** Unknown user, wrong password, authentication failed: fixed in config, not by retrying. */
const AUTH_CODES = new Set(['192', '193', '516']);

/** The server refused the inserted data (bad rows); the sink bisects to find them. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return code;
  // 18.16 prints multi-line messages the client does not parse: "Code: 130, e.displayText() = …"
  const m = e instanceof Error ? /^Code: (\d+), e\.displayText\(\)/.exec(e.message) : null;
  return m?.[1];
}

/** Maps any client/server error to SinkError (retriable or not) or DataError. */
export function classify(e: unknown, what: string): Error {
  if (e instanceof SinkError || e instanceof DataError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const tls = tlsFailure(e, 'ClickHouse', what);
  if (tls) return tls;
  const code = codeOf(e);
  if (code !== undefined && AUTH_CODES.has(code)) return new SinkError(`ClickHouse ${what} failed with code ${code}: ${message.split('\n')[0]}; check the sink's auth (username, password)`, { retriable: false, cause: e });
  if (code === undefined) return new SinkError(`ClickHouse ${what} failed (${message}); will retry`, { retriable: true, cause: e });
  if (RETRIABLE_CODES.has(code)) return new SinkError(`ClickHouse ${what} failed with code ${code}: ${message}`, { retriable: true, cause: e });
  if (DATA_CODES.has(code)) return new DataError(`ClickHouse refused the data (code ${code}): ${message.split('\n')[0]}`, { cause: e });
  return new SinkError(`ClickHouse ${what} failed with code ${code}: ${message}`, { retriable: false, cause: e });
}

export function ident(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export interface TsvRows {
  readonly names: readonly string[];
  /** Raw (still escaped) fields per row. */
  readonly rows: readonly (readonly string[])[];
}

export function parseTsvWithNames(text: string): TsvRows {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header = lines.shift();
  if (header === undefined) return { names: [], rows: [] };
  return { names: header.split('\t').map(unescapeTsv), rows: lines.map((l) => l.split('\t')) };
}

export interface ConnOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The sink's `tls` group; an https URL without it verifies against the system CAs. */
  readonly tls?: TlsSettings | undefined;
  readonly requestTimeoutMs: number;
}

export class Conn {
  readonly client: ClickHouseClient;

  constructor(o: ConnOptions) {
    // The client's own `tls` option has no verify modes or SNI name, so TLS goes through an https
    // agent built from the shared group (mode, CA, client cert/key, servername).
    const tls = nodeTlsOptions(o.tls);
    this.client = createClient({
      ...(tls ? { http_agent: new https.Agent({ ...tls, keepAlive: true, maxSockets: 4 }), set_basic_auth_header: true } : {}),
      url: o.url,
      username: o.username,
      password: o.password,
      request_timeout: o.requestTimeoutMs,
      max_open_connections: 4,
      compression: { request: false, response: false },
      log: { level: 127 },
    });
  }

  async command(query: string, what = 'command'): Promise<void> {
    try {
      await this.client.command({ query });
    } catch (e) {
      throw classify(e, what);
    }
  }

  async queryTsv(query: string, what = 'query', settings: ClickHouseSettings = {}): Promise<TsvRows> {
    try {
      const rs = await this.client.query({ query, format: 'TabSeparatedWithNames', clickhouse_settings: settings });
      return parseTsvWithNames(await rs.text());
    } catch (e) {
      throw classify(e, what);
    }
  }

  async queryJson<T>(query: string, what = 'query', settings: ClickHouseSettings = {}): Promise<T[]> {
    try {
      const rs = await this.client.query({ query, format: 'JSONEachRow', clickhouse_settings: settings });
      return await rs.json<T>();
    } catch (e) {
      throw classify(e, what);
    }
  }

  /** INSERT of pre-encoded TSV lines (each ending without newline). */
  async insertTsv(table: string, columns: readonly string[], lines: readonly string[], settings: ClickHouseSettings = {}): Promise<void> {
    if (lines.length === 0) return;
    const body = Buffer.from(lines.join('\n') + '\n');
    try {
      await this.client.exec({
        query: `INSERT INTO ${table} (${columns.map(ident).join(', ')}) FORMAT TabSeparated`,
        values: Readable.from([body], { objectMode: false }),
        clickhouse_settings: settings,
      }).then((r) => r.stream.resume());
    } catch (e) {
      throw classify(e, `insert into ${table}`);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
