// TLS and authentication on every connection, as a user runs it (issue 15.4): `cdc-fanout run`
// with one pipeline file whose Postgres, Kafka, Redis and ClickHouse connections all use the shared
// `tls` group (certificates as absolute paths and via `${file:…}` relative to the config file) and
// the `auth` / `sasl` groups with passwords from environment variables — against private TLS-only
// servers (test/support/tls-services.ts, kafka-tls-broker.ts: client-certificate-only Postgres,
// Kafka SASL_SSL with SCRAM-SHA-512, TLS-only Redis with an ACL user, ClickHouse https with client
// certificates). Rows flow into Redis and ClickHouse; the ClickHouse sink reads the source catalog
// over the source's TLS settings (the column types prove it); no password or key leaks into the
// status API or the logs. Skipped when a server binary, java, the Kafka jars or openssl is missing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeTlsOptions } from '../../src/spec/tls.js';
import { hasOpenssl, makePki, type TestPki } from '../support/certs.js';
import { kafkaLib, SASL_PASSWORD, SASL_USER, startTlsBroker, type TlsBroker } from '../support/kafka-tls-broker.js';
import {
  canRunClickHouse,
  canRunPostgres,
  canRunRedis,
  CH_PASSWORD,
  CH_USER,
  chownForPostgres,
  REDIS_PASSWORD,
  REDIS_USER,
  startTlsClickHouse,
  startTlsPostgres,
  startTlsRedis,
  type TlsClickHouse,
  type TlsPostgres,
  type TlsRedis,
} from '../support/tls-services.js';
import { pipelines, startDaemon, waitFor, type DaemonProcess } from './helpers.js';

const lib = kafkaLib();
const canRun = hasOpenssl && canRunPostgres && canRunRedis && canRunClickHouse && lib !== null && spawnSync('java', ['-version']).status === 0;
const run = Date.now().toString(36);
const NAME = `tlse2e_${run}`;
const PREFIX = `tlse2e-${run}`;
const ROWS = 20;

let dir = '';
let pki: TestPki;
let pgServer: TlsPostgres | undefined;
let broker: TlsBroker | undefined;
let redisServer: TlsRedis | undefined;
let ch: TlsClickHouse | undefined;
let redis: Redis | undefined;
let daemon: DaemonProcess | undefined;

function pipelineYaml(): string {
  const files = `ca: ${pki.caCert}, cert: ${pki.clientCert}, key: ${pki.clientKey}`;
  return `name: ${NAME}
source:
  topic.prefix: ${PREFIX}
  database.hostname: 127.0.0.1
  database.port: ${pgServer!.port}
  database.user: postgres
  database.dbname: postgres
  database.tls:
    mode: verify-full
    ca: "\${file:../pki/ca.crt}"
    cert: ${pki.clientCert}
    key: "\${file:../pki/client.key}"
  slot.name: ${NAME}
  publication.name: ${NAME}_pub
  publication.autocreate.mode: filtered
  table.include.list: public\\.items
  max.batch.wait.ms: 20
kafka:
  bootstrap.servers: ${broker!.saslSsl}
  tls: { ca: ${pki.caCert} }
  sasl: { mechanism: scram-sha-512, username: ${SASL_USER}, password: "\${TLSE2E_SASL_PASSWORD}" }
sinks:
  - name: cache
    type: redis
    url: rediss://127.0.0.1:${redisServer!.port}/0
    auth: { username: ${REDIS_USER}, password: "\${TLSE2E_REDIS_PASSWORD}" }
    tls: { ${files} }
    batch.max.wait.ms: 50
    tables: [public.items]
    table.overrides:
      public.items: { keys: ["${NAME}:item:{id}"], mode: write-through }
  - name: wh
    type: clickhouse
    url: https://127.0.0.1:${ch!.httpsPort}
    auth: { username: ${CH_USER}, password: "\${TLSE2E_CH_PASSWORD}" }
    tls: { ca: ${pki.caCert}, cert: ${pki.clientCert}, key: ${pki.clientKeyEncrypted}, key.password: "\${TLSE2E_KEY_PASSWORD}" }
    database: ${NAME}
    batch.max.wait.ms: 50
    topics: [${PREFIX}.public.items]
`;
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-tls-e2e-'));
  chownForPostgres(dir);
  pki = makePki(join(dir, 'pki'), 'postgres');
  pgServer = await startTlsPostgres(dir, pki);
  await pgServer.sql('CREATE TABLE public.items (id int PRIMARY KEY, name text, price numeric(10,2))');
  redisServer = await startTlsRedis(join(dir, 'redis'), pki);
  ch = await startTlsClickHouse(join(dir, 'clickhouse'), pki);
  broker = await startTlsBroker(join(dir, 'kafka'), pki, lib as string);
  redis = new Redis({ port: redisServer.port, username: REDIS_USER, password: REDIS_PASSWORD, tls: nodeTlsOptions({ mode: 'verify-full', ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }), maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const cfg = join(dir, 'connectors');
  mkdirSync(cfg);
  writeFileSync(join(cfg, 'tls.yaml'), pipelineYaml());
}, 240_000);

afterAll(async () => {
  await daemon?.stop('SIGKILL');
  redis?.disconnect();
  await broker?.stop();
  await ch?.stop();
  redisServer?.stop();
  pgServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 90_000);

const env = (): Record<string, string> => ({ TLSE2E_SASL_PASSWORD: SASL_PASSWORD, TLSE2E_REDIS_PASSWORD: REDIS_PASSWORD, TLSE2E_CH_PASSWORD: CH_PASSWORD, TLSE2E_KEY_PASSWORD: pki.clientKeyPassword });

describe.skipIf(!canRun)('daemon with TLS and auth on every connection (private TLS-only Postgres, Kafka SASL_SSL, Redis, ClickHouse)', () => {
  it('validate accepts the pipeline file', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js'), 'validate', '--config', join(dir, 'connectors')], { env: { ...process.env, ...env() }, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/i);
    expect(r.status).toBe(0);
  });

  it('rows flow Postgres → Kafka → Redis and ClickHouse over TLS; nothing secret shows in /pipelines or the logs', async () => {
    daemon = await startDaemon(join(dir, 'connectors'), env());
    await pgServer!.sql(`INSERT INTO public.items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, ${ROWS}) g`);

    await waitFor('all rows in Redis', async () => {
      const values = await redis!.mget(Array.from({ length: ROWS }, (_, i) => `${NAME}:item:${i + 1}`));
      return values.every((v) => v !== null);
    }, 90_000);
    expect(JSON.parse((await redis!.get(`${NAME}:item:7`)) ?? '{}')).toMatchObject({ id: 7, name: 'item 7' });

    await waitFor('all rows in ClickHouse', async () => {
      const n = await ch!.query(`SELECT count() FROM ${NAME}.public_items FINAL`).catch(() => '0');
      return Number(n.trim()) === ROWS;
    }, 90_000);
    // Types from the source catalog (read over the source's TLS settings), not inferred from values.
    const types = Object.fromEntries((await ch!.query(`SELECT name, type FROM system.columns WHERE database = '${NAME}' AND table = 'public_items'`)).trim().split('\n').map((l) => l.split('\t')));
    expect(types.id).toBe('Int32');

    const status = await pipelines(daemon.url);
    const components = status.flatMap((p) => [p.source, ...p.sinks] as unknown as { state?: string }[]);
    expect(components.map((c) => c.state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    const shown = JSON.stringify(status) + daemon.output();
    const keyBody = readFileSync(pki.clientKey, 'utf8').split('\n')[1] as string;
    for (const secret of [SASL_PASSWORD, REDIS_PASSWORD, CH_PASSWORD, pki.clientKeyPassword, keyBody]) expect(shown).not.toContain(secret);
  }, 300_000);
});
