/**
 * The Redis sink over TLS with an ACL user (issue 15.4), against a throwaway redis-server (Debian's
 * build has TLS) on a free port: TLS only (`--port 0`), client certificates required, the default
 * user disabled and one ACL user. The sink invalidates and stores offsets with `tls` + `auth`
 * (rediss:// url forms); a foreign CA, a missing client certificate and a wrong password
 * are refused with non-retriable errors that name what to check. The shared Redis is not touched.
 * Certificates: a throwaway CA (test/support/certs.ts). Skipped without openssl or redis-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeTlsOptions } from '../../src/spec/tls.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { SinkError } from '../../src/sinks/sink.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';
import { canRunRedis, REDIS_PASSWORD as PASSWORD, REDIS_USER as USER, startTlsRedis, type TlsRedis } from '../support/tls-services.js';

const canRun = hasOpenssl && canRunRedis;
const tables = { tables: ['public.users'], 'table.overrides': { 'public.users': { keys: ['user:{id}'] } } };

let dir = '';
let port = 0;
let pki: TestPki;
let server: TlsRedis | undefined;
let check: Redis | undefined;

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-redis-tls-'));
  pki = makePki(join(dir, 'pki'));
  server = await startTlsRedis(join(dir, 'redis'), pki);
  port = server.port;
  check = new Redis({ port, username: USER, password: PASSWORD, tls: nodeTlsOptions({ mode: 'verify-full', ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }), lazyConnect: true, maxRetriesPerRequest: 1 });
  for (let i = 0; ; i++) {
    try {
      await check.connect();
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  await check?.quit().catch(() => undefined);
  server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one invalidation through a sink with `cfg`; resolves to the error of open(), or null after a successful write + commit. */
async function invalidate(cfg: Record<string, unknown>): Promise<unknown> {
  const sink = new RedisSink(redisSinkSpec.parse({ ...tables, ...cfg }), 'cdc:offsets:tls', silentLogger);
  try {
    await sink.open();
    const batch = sinkBatch([sinkRecord({ table: 'users', op: 'u', after: { id: 1 }, position: pos(1) })]);
    await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
    return null;
  } catch (err) {
    return err;
  } finally {
    await sink.close();
  }
}

describe.skipIf(!canRun)('Redis sink over TLS with an ACL user (private redis-server: TLS only, client certificates required)', () => {
  it('invalidates and stores offsets with tls + auth (rediss:// url with and without a db path, encrypted and plain key)', async () => {
    const tls = { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
    for (const cfg of [
      { url: `rediss://127.0.0.1:${port}/0`, auth: { username: USER, password: PASSWORD }, tls },
      { url: `rediss://127.0.0.1:${port}`, auth: { username: USER, password: PASSWORD }, tls: { ...tls, key: pki.clientKeyEncrypted, 'key.password': pki.clientKeyPassword } },
    ]) {
      await check!.set('user:1', 'cached');
      expect(await invalidate(cfg)).toBeNull();
      expect(await check!.exists('user:1')).toBe(0);
      expect(await check!.hget('cdc:offsets:tls', `${sinkRecord({ table: 'users', op: 'u', after: { id: 1 }, position: pos(1) }).topic}:0`)).toBe('1');
      await check!.del('cdc:offsets:tls');
    }
  });

  it('the server is TLS-only: a plaintext client gets no answer it can use', async () => {
    const err = await invalidate({ url: `redis://127.0.0.1:${port}`, auth: { username: USER, password: PASSWORD } });
    expect(err).toBeInstanceOf(SinkError);
  });

  it('a foreign CA is refused, non-retriable, naming the tls settings', async () => {
    const err = await invalidate({ url: `rediss://127.0.0.1:${port}`, auth: { username: USER, password: PASSWORD }, tls: { ca: pki.otherCaCert, cert: pki.clientCert, key: pki.clientKey } });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/certificate.*check the sink's tls \(ca, servername, mode\)/);
  });

  it('a missing client certificate is refused by the server', async () => {
    const err = await invalidate({ url: `rediss://127.0.0.1:${port}`, auth: { username: USER, password: PASSWORD }, tls: { ca: pki.caCert } });
    expect(err).toBeInstanceOf(SinkError);
  });

  it('a wrong ACL password is refused, non-retriable, naming auth', async () => {
    const err = await invalidate({ url: `rediss://127.0.0.1:${port}`, auth: { username: USER, password: 'wrong' }, tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } });
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/WRONGPASS.*auth\.username\/auth\.password/);
  });
});
