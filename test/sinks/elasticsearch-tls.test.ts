/**
 * The Elasticsearch sink over https with an API key or basic auth (issue 15.4). The stack's
 * Elasticsearch boots from Maven jars without x-pack, so it cannot serve TLS or check credentials:
 * the test puts a Node https front in front of it (test CA's server certificate, client certificate
 * required, and an Authorization check answering 401 `security_exception` as ES does) that forwards
 * every request to the real ES. So the sink's TLS and auth settings are exercised against a real
 * TLS handshake and the real ES API, but ES's own security module is not (README "Guarantees").
 * Certificates: test/support/certs.ts. Indices carry a unique run id and are deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { silentLogger } from '../../src/observability/logger.js';
import { plugin } from '../../src/sinks/elasticsearch/index.js';
import { SinkError, type Sink } from '../../src/sinks/sink.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';

const run = randomUUID().slice(0, 8);
const upstream = new URL(endpoints().elasticsearchUrl);
const es = new Client({ node: upstream.toString() });
const indexPrefix = `estls-${run}`;
const checkpointIndex = `cdc-fanout-checkpoints-tls-${run}`;
const API_KEY = Buffer.from(`id-${run}:key-${run}`).toString('base64');
const BASIC = Buffer.from(`elastic:pw-${run}`).toString('base64');

let dir = '';
let pki: TestPki;
let front: https.Server | undefined;
let port = 0;
/** Client certificate subjects and Authorization schemes the front saw. */
const seen: { subject: string; scheme: string }[] = [];

beforeAll(async () => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-es-tls-'));
  pki = makePki(join(dir, 'pki'));
  front = https.createServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const authz = req.headers.authorization ?? '';
    seen.push({ subject: String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''), scheme: authz.split(' ')[0] ?? '' });
    if (authz !== `ApiKey ${API_KEY}` && authz !== `Basic ${BASIC}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch', 'www-authenticate': 'Basic realm="security", ApiKey' });
      res.end(JSON.stringify({ error: { type: 'security_exception', reason: 'unable to authenticate user' }, status: 401 }));
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    delete headers.authorization;
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => front!.listen(0, '127.0.0.1', r));
  port = (front.address() as { port: number }).port;
});

afterAll(async () => {
  await es.indices.delete({ index: `${indexPrefix}.*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
  await es.indices.delete({ index: checkpointIndex, ignore_unavailable: true }).catch(() => undefined);
  await es.close();
  front?.closeAllConnections();
  await new Promise((r) => (front ? front.close(r) : r(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function makeSink(extra: Record<string, unknown>): Sink {
  const config = plugin.spec.parse({ url: `https://127.0.0.1:${port}`, 'index.name.template': `${indexPrefix}.{schema}.{table}`, 'checkpoint.index': checkpointIndex, refresh: 'wait_for', ...extra });
  return plugin.create(config, { pipeline: `p-${run}`, sinkName: 'tls', topicPrefix: 'cdc', logger: silentLogger });
}

/** open() + one upsert of `id`; null when it worked, else the error. */
async function upsert(extra: Record<string, unknown>, id: number): Promise<unknown> {
  const sink = makeSink(extra);
  try {
    await sink.open();
    const batch = sinkBatch([sinkRecord({ table: 'users', op: 'c', after: { id, name: `over https ${id}` }, position: pos(id) })], { firstOffset: id });
    const r = await sink.write(batch);
    expect(r.rejected).toEqual([]);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
    return null;
  } catch (err) {
    return err;
  } finally {
    await sink.close();
  }
}

const mtls = () => ({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });

describe.skipIf(!hasOpenssl)('Elasticsearch sink over https (TLS + auth front with client certificates, forwarding to the real ES)', () => {
  it('indexes with tls + an API key, and with tls + basic auth; the front saw the client certificate and both schemes', async () => {
    expect(await upsert({ auth: { 'api.key': API_KEY }, tls: mtls() }, 1)).toBeNull();
    expect(await upsert({ auth: { username: 'elastic', password: `pw-${run}` }, tls: { ...mtls(), key: pki.clientKeyEncrypted, 'key.password': pki.clientKeyPassword } }, 2)).toBeNull();
    const index = `${indexPrefix}.public.users`;
    await es.indices.refresh({ index });
    const docs = await es.search<{ name: string }>({ index, query: { match_all: {} }, sort: [{ id: 'asc' }] });
    expect(docs.hits.hits.map((h) => h._source?.name)).toEqual(['over https 1', 'over https 2']);
    expect(new Set(seen.map((s) => s.subject))).toEqual(new Set(['cdc-client']));
    expect(new Set(seen.map((s) => s.scheme))).toEqual(new Set(['ApiKey', 'Basic']));
  });

  it('a wrong password gets the 401 with its hint, non-retriable', async () => {
    const err = await upsert({ auth: { username: 'elastic', password: 'wrong' }, tls: mtls() }, 3);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/HTTP 401: security_exception: unable to authenticate user — check auth/);
  });

  it('a foreign CA is refused, non-retriable, naming the tls settings', async () => {
    const err = await upsert({ auth: { 'api.key': API_KEY }, tls: { ...mtls(), ca: pki.otherCaCert } }, 4);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(false);
    expect((err as SinkError).message).toMatch(/does not verify.*check the sink's tls \(ca, servername, mode\)/);
  });

  it('servername: a wrong name is refused under verify-full and accepted under verify-ca', async () => {
    const wrong = await upsert({ auth: { 'api.key': API_KEY }, tls: { ...mtls(), servername: 'elsewhere.invalid' } }, 5);
    expect((wrong as SinkError).message).toMatch(/does not verify/);
    expect(await upsert({ auth: { 'api.key': API_KEY }, tls: { ...mtls(), mode: 'verify-ca', servername: 'elsewhere.invalid' } }, 6)).toBeNull();
  });

  it('without a client certificate the front refuses the handshake', async () => {
    expect(await upsert({ auth: { 'api.key': API_KEY }, tls: { ca: pki.caCert } }, 7)).toBeInstanceOf(SinkError);
  });
});
