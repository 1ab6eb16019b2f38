/**
 * The ClickHouse sink over https with a password user (issue 15.4), against a private
 * clickhouse-server (Debian's 18.16 build serves `https_port`) on free ports with its own config and
 * data dir — the shared server is never touched: https only, client certificates required
 * (verificationMode strict), one user with a password. The sink creates its tables and applies a
 * batch with `tls` + `auth`; a foreign CA, a wrong name, a missing client certificate and a wrong
 * password are refused with errors naming what to check. Certificates: test/support/certs.ts.
 * Skipped without openssl or clickhouse-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { SinkError } from '../../src/sinks/sink.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';
import { canRunClickHouse, CH_PASSWORD as PASSWORD, CH_USER as USER, startTlsClickHouse, type TlsClickHouse } from '../support/tls-services.js';

const canRun = hasOpenssl && canRunClickHouse;

let dir = '';
let httpsPort = 0;
let pki: TestPki;
let server: TlsClickHouse | undefined;
const query = (sql: string): Promise<string> => server!.query(sql);

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-ch-tls-'));
  pki = makePki(join(dir, 'pki'));
  server = await startTlsClickHouse(join(dir, 'clickhouse'), pki);
  httpsPort = server.httpsPort;
}, 90_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

function sink(extra: Record<string, unknown>): ClickHouseSink {
  return new ClickHouseSink({
    config: clickhouseSpec.parse({ url: `https://127.0.0.1:${httpsPort}`, database: 'cdc_tls', 'request.timeout.ms': 10_000, ...extra }),
    group: 'tls-test',
    logger: silentLogger,
  });
}

/** open() of a sink with `extra`: null when it connects, else the error. */
async function openError(extra: Record<string, unknown>): Promise<unknown> {
  const s = sink(extra);
  try {
    await s.open();
    return null;
  } catch (err) {
    return err;
  } finally {
    await s.close();
  }
}

const auth = { username: USER, password: PASSWORD };
const mtls = () => ({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });

describe.skipIf(!canRun)('ClickHouse sink over https (private clickhouse-server: https only, client certificates required, password user)', () => {
  it('creates its tables and applies a batch with tls + auth; the offsets land in the checkpoint table', async () => {
    const s = sink({ auth, tls: mtls() });
    await s.open();
    try {
      const batch = sinkBatch([sinkRecord({ table: 'users', op: 'c', after: { id: 1, name: 'over https' }, position: pos(1) })]);
      const r = await s.write(batch);
      expect(r.rejected).toEqual([]);
      await s.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
      expect(await query('SELECT name FROM cdc_tls.public_users FINAL WHERE id = 1')).toBe('over https\n');
      expect(await query(`SELECT offset FROM cdc_tls.cdc_fanout_checkpoints FINAL WHERE topic = '${batch.topic}'`)).toBe('1\n');
    } finally {
      await s.close();
    }
  });

  it('servername: verify-full checks the configured name; verify-ca accepts any name on a CA-signed certificate', async () => {
    expect(await openError({ auth, tls: { ...mtls(), servername: 'tls-test.internal' } })).toBeNull();
    const wrong = await openError({ auth, tls: { ...mtls(), servername: 'elsewhere.invalid' } });
    expect(wrong).toBeInstanceOf(SinkError);
    expect((wrong as SinkError).message).toMatch(/does not verify.*check the sink's tls \(ca, servername, mode\)/);
    expect(await openError({ auth, tls: { ...mtls(), mode: 'verify-ca', servername: 'elsewhere.invalid' } })).toBeNull();
  });

  it('a foreign CA is refused, non-retriable, naming the tls settings', async () => {
    const err = await openError({ auth, tls: { ...mtls(), ca: pki.otherCaCert } });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/does not verify.*check the sink's tls/);
  });

  it('without a client certificate the server refuses the handshake', async () => {
    expect(await openError({ auth, tls: { ca: pki.caCert } })).toBeInstanceOf(SinkError);
  });

  it('a wrong password is refused, non-retriable, naming auth', async () => {
    const err = await openError({ auth: { username: USER, password: 'wrong' }, tls: mtls() });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/code 193.*check the sink's auth/s);
  });
});
