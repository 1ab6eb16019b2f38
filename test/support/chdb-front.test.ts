/**
 * The chdb HTTP front (test/support/chdb-front.ts) answers as a ClickHouse server's HTTP interface
 * does for what the sink and the tests use: errors (status, code header, text), per-request
 * settings and database, FORMAT handling, inserts with a summary, query parameters, compression.
 */
import { gzipSync } from 'node:zlib';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChdbFront, type ChdbFront } from './chdb-front.js';

let front: ChdbFront;
beforeAll(async () => {
  front = await startChdbFront();
});
afterAll(() => front?.close());

const post = (params: Record<string, string>, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${front.url}/?${new URLSearchParams(params)}`, { method: 'POST', body, headers });

describe('chdb HTTP front', () => {
  it('serves /ping and reports the engine version (26.x)', async () => {
    expect(await (await fetch(`${front.url}/ping`)).text()).toBe('Ok.\n');
    expect(Number(front.version.split('.')[0])).toBeGreaterThanOrEqual(24);
    const r = await post({}, 'SELECT version()');
    expect(r.headers.get('x-clickhouse-server-version')).toBe(front.version);
    expect((await r.text()).trim()).toBe(front.version);
  });

  it('returns errors as the server does: status by code, X-ClickHouse-Exception-Code, ClickHouse text', async () => {
    const unknown = await post({}, 'SELECT * FROM no_such_table');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await unknown.text()).toMatch(/^Code: 60\. DB::Exception: .*no_such_table.*\(UNKNOWN_TABLE\) \(version \d+\.\d+/);
    const syntax = await post({}, 'SELEC 1');
    expect([syntax.status, syntax.headers.get('x-clickhouse-exception-code')]).toEqual([400, '62']);
    const other = await post({}, "SELECT throwIf(1, 'boom')");
    expect(other.status).toBe(500);
    expect(await other.text()).toMatch(/boom.*\(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO\)/);
    const noDb = await post({ database: 'no_such_db' }, 'SELECT 1');
    expect([noDb.status, noDb.headers.get('x-clickhouse-exception-code')]).toEqual([404, '81']);
    // the client parses it into an error with the code
    const client = createClient({ url: front.url, log: { level: 127 } });
    await expect(client.query({ query: 'SELECT * FROM no_such_table' })).rejects.toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
    await client.close();
  });

  it('applies URL settings and the database to their own request only (also a SET in the body)', async () => {
    await post({}, 'CREATE DATABASE IF NOT EXISTS front_db');
    const inDb = await post({ database: 'front_db', max_threads: '1' }, "SELECT currentDatabase(), getSetting('max_threads')");
    expect(await inDb.text()).toBe('front_db\t1\n');
    await post({}, 'SET max_threads = 1');
    await post({}, 'USE front_db');
    const after = await post({}, "SELECT currentDatabase(), getSetting('max_threads') = 1");
    expect(await after.text()).toBe('default\t0\n');
    const bad = await post({ no_such_setting: '1' }, 'SELECT 1');
    expect([bad.status, bad.headers.get('x-clickhouse-exception-code')]).toEqual([404, '115']);
  });

  it('answers in the query FORMAT, else default_format, else TabSeparated, with X-ClickHouse-Format', async () => {
    const json = await post({}, 'SELECT 1 AS x FORMAT JSONEachRow');
    expect([json.headers.get('x-clickhouse-format'), json.headers.get('content-type'), await json.text()]).toEqual(['JSONEachRow', 'application/json; charset=UTF-8', '{"x":1}\n']);
    const dflt = await post({ default_format: 'CSV' }, "SELECT 'a' AS x");
    expect([dflt.headers.get('x-clickhouse-format'), await dflt.text()]).toEqual(['CSV', '"a"\n']);
    expect(await (await post({}, "SELECT 'a\tb'")).text()).toBe('a\\tb\n');
  });

  it('inserts the body as the data of `INSERT … FORMAT X` in the query parameter, with written rows in X-ClickHouse-Summary', async () => {
    await post({}, 'CREATE TABLE front_db.t (id Int64, s String) ENGINE = MergeTree ORDER BY id');
    const tsv = await post({ query: 'INSERT INTO front_db.t (id, s) FORMAT TabSeparated' }, '1\ta\\tb\n2\tc\n');
    expect(tsv.status).toBe(200);
    expect(JSON.parse(tsv.headers.get('x-clickhouse-summary') ?? '{}')).toMatchObject({ written_rows: '2' });
    const client = createClient({ url: front.url, log: { level: 127 } });
    const r = await client.insert({ table: 'front_db.t', values: [{ id: 3, s: 'json' }], format: 'JSONEachRow' });
    expect(r.summary?.written_rows).toBe('1');
    const bad = await post({ query: 'INSERT INTO front_db.t FORMAT TabSeparated' }, 'x\ty\n');
    expect([bad.status, bad.headers.get('x-clickhouse-exception-code')]).toEqual([400, '27']);
    const rows = await client.query({ query: 'SELECT id, s FROM front_db.t ORDER BY id', format: 'JSONEachRow' });
    expect(await rows.json()).toEqual([{ id: 1, s: 'a\tb' }, { id: 2, s: 'c' }, { id: 3, s: 'json' }]);
    await client.close();
  });

  it('binds query parameters and takes gzip bodies; compresses the answer when asked', async () => {
    const client = createClient({ url: front.url, log: { level: 127 }, compression: { request: true, response: true } });
    const rs = await client.query({ query: 'SELECT {n:UInt64} + 1 AS v, {s:String} AS s, {u:Nullable(String)} AS u, {a:Array(String)} AS a', query_params: { n: 41, s: "it's\t\\ end", u: null, a: ['x', "y'"] }, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ v: 42, s: "it's\t\\ end", u: null, a: ['x', "y'"] }]);
    await client.close();
    const gz = await post({ enable_http_compression: '1' }, gzipSync('SELECT 7'), { 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(await gz.text()).toBe('7\n');
  });
});
