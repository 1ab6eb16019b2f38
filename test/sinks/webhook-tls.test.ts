/**
 * The webhook sink over HTTPS against a real local node:https receiver that demands a client
 * certificate (mutual TLS), with a throwaway PKI made by openssl: tls.ca + tls.cert/tls.key deliver;
 * the receiver's certificate not verifiable (no tls.ca: system CAs) and a missing client certificate are
 * retriable failures naming the problem, nothing delivered; `tls` on an http:// URL is refused by the
 * spec with the fix.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { KafkaGroupOffsetStore } from '../../src/sinks/runtime/kafka-group-offsets.js';
import { SinkError } from '../../src/sinks/sink.js';
import { WebhookSink, webhookSinkSpec } from '../../src/sinks/webhook/index.js';
import { pos, sinkBatch, sinkRecord } from '../support/records.js';

const dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
const f = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
let server: https.Server;
let url = '';
const seen: { events: number; clientCn: string | undefined }[] = [];
const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(',') });

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=webhook test CA');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'cdc-fanout-client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  server = https.createServer({ key: readFileSync(f('server.key')), cert: readFileSync(f('server.pem')), ca: readFileSync(f('ca.pem')), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({ events: (JSON.parse(Buffer.concat(chunks).toString()) as { events: unknown[] }).events.length, clientCn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function sink(fields: Record<string, unknown>): WebhookSink {
  const config = webhookSinkSpec.parse({ url, 'retry.max.attempts': 1, 'request.timeout.ms': 5000, ...fields });
  return new WebhookSink(config, new KafkaGroupOffsetStore(kafkaConfig, 'webhook-tls-unused'), silentLogger);
}

const batch = sinkBatch([sinkRecord({ table: 'tls', op: 'c', after: { id: 1 }, position: pos(10) }), sinkRecord({ table: 'tls', op: 'c', after: { id: 2 }, position: pos(11) })]);

describe('webhook over TLS', () => {
  it('delivers with tls.ca and a client certificate (mutual TLS); the receiver sees the client certificate', async () => {
    const s = sink({ tls: { ca: f('ca.pem'), cert: readFileSync(f('client.pem'), 'utf8'), key: f('client.key') } });
    await s.open();
    const before = seen.length;
    expect((await s.write(batch)).rejected).toEqual([]);
    await s.close();
    expect(seen.slice(before)).toEqual([{ events: 2, clientCn: 'cdc-fanout-client' }]);
  });

  it('a receiver certificate that does not verify (no tls.ca: system CAs) is a retriable error naming it; nothing delivered', async () => {
    const s = sink({ tls: { cert: f('client.pem'), key: f('client.key') } });
    await s.open();
    const before = seen.length;
    const err = await s.write(batch).then(() => null, (e: unknown) => e);
    await s.close();
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/certificate/i);
    expect(seen.length).toBe(before);
  });

  it('without the client certificate the receiver refuses the handshake: retriable, nothing delivered', async () => {
    const s = sink({ tls: { ca: f('ca.pem') } });
    await s.open();
    const before = seen.length;
    const err = await s.write(batch).then(() => null, (e: unknown) => e);
    await s.close();
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retriable).toBe(true);
    expect(seen.length).toBe(before);
  });

  it('the spec (shared tls group) refuses tls on an http:// URL and a certificate without its key, saying what to write', () => {
    const r = webhookSinkSpec.safeParse({ url: 'http://hooks.example.com/x', tls: { ca: f('ca.pem') } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['url: the URL is http:// (plaintext) but tls is set; write https://hooks.example.com/x (or remove tls)']);
    const noKey = webhookSinkSpec.safeParse({ url: 'https://hooks.example.com/x', tls: { cert: f('client.pem') } });
    expect(noKey.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toContain('tls.key: cert is set but key is not: a client certificate needs its private key (key: /path/client.key)');
  });
});
