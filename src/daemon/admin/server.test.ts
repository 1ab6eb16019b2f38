import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../observability/logger.js';
import type { PipelineStatus } from '../status.js';
import { startAdminServer, type AdminBackend } from './server.js';

const status: PipelineStatus = {
  name: 'shop',
  file: 'connectors/shop.yaml',
  topicPrefix: 'shop',
  kafka: { bootstrapServers: '127.0.0.1:9092' },
  source: { state: 'RUNNING', restarts: 0, lastLsn: '0/1', eventsPublished: 1, eventsPerSec: 0, slotLagBytes: 0, slotLagMs: 0, slot: null, snapshot: [] },
  sinks: [{ name: 'cache', type: 'redis', state: 'RUNNING', restarts: 0, records: 1, recordsPerSec: 0, lag: 0, timeLagMs: 0, lagUpdatedAt: null, latencyMs: null, partitions: [], failedTables: [] }],
};

function backend(): AdminBackend & { actions: string[] } {
  const actions: string[] = [];
  return {
    actions,
    pipelines: async () => [status],
    ready: () => ({ ready: true, notReady: [] }),
    history: () => ({ intervalMs: 5000, pipelines: [{ name: 'shop', source: { t: [1, 2], series: { eventsPerSec: [0, 1] } }, sinks: [] }] }),
    async sinkAction(p, s, a) {
      if (p !== 'shop') return { ok: false, status: 404, error: `no pipeline "${p}"` };
      actions.push(`${p}/${s}/${a}`);
      return { ok: true, state: a === 'pause' ? 'PAUSED' : 'RUNNING' };
    },
    async dlqList(p, s, table) {
      actions.push(`${p}/${s}/dlq-list/${table ?? '*'}`);
      return { ok: false, status: 400, error: 'no dlq' };
    },
    dlqReplay(p, s, req) {
      actions.push(`${p}/${s}/dlq-replay/${req.table ?? '*'}/${String(req.dryRun)}`);
      return { ok: false, status: 409, error: 'already running' };
    },
    dlqReplayStatus: () => ({ ok: false, status: 404, error: 'no replay' }),
    rebuild(p, s, req) {
      actions.push(`${p}/${s}/rebuild/${req.tables?.join('+') ?? '*'}/${String(req.graceMs)}/${req.from ?? 'log'}`);
      return { ok: true, value: { id: 'j1', pipeline: p, sink: s, state: 'running', request: { tables: req.tables ?? null, graceMs: req.graceMs ?? 600000, from: req.from ?? 'log' }, startedAt: 't', finishedAt: null, progress: null, error: null } };
    },
    rebuildStatus: () => ({ ok: false, status: 404, error: 'no rebuild' }),
    async snapshot(p, req) {
      if (p !== 'shop') return { ok: false, status: 404, error: `no pipeline "${p}"` };
      actions.push(`${p}/snapshot/${req.kind}${req.kind === 'execute' ? `/${req.tables.join('+')}/${JSON.stringify(req.conditions)}/${req.type ?? ''}` : ''}`);
      return { ok: true, value: { id: 'snap-1', status: req.kind === 'execute' ? 'accepted' : 'done' } };
    },
  };
}

describe('admin server', () => {
  it('serves health, ready, metrics, pipelines, the page and sink actions; 404/405 otherwise', async () => {
    const b = backend();
    const srv = await startAdminServer(b, { host: '127.0.0.1', port: 0, logger: silentLogger });
    try {
      expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${srv.url}/health`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${srv.url}/ready`)).status).toBe(200);
      expect(((await (await fetch(`${srv.url}/history`)).json()) as { intervalMs: number }).intervalMs).toBe(5000);
      expect(await (await fetch(`${srv.url}/metrics`)).text()).toContain('# TYPE cdc_fanout_component_state gauge');
      expect(await (await fetch(`${srv.url}/pipelines`)).json()).toEqual({ pipelines: [status] });
      expect((await fetch(`${srv.url}/pipelines/shop`)).status).toBe(200);
      expect((await fetch(`${srv.url}/pipelines/nope`)).status).toBe(404);
      const page = await fetch(`${srv.url}/`);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('data-testid="pipelines"');
      const pause = await fetch(`${srv.url}/pipelines/shop/sinks/cache/pause`, { method: 'POST' });
      expect(await pause.json()).toEqual({ state: 'PAUSED' });
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/pause`)).status).toBe(405);
      expect((await fetch(`${srv.url}/pipelines/x/sinks/cache/restart`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${srv.url}/nothing`)).status).toBe(404);
      // dead-letter routes: backend answers and body checks
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/dlq?table=public.t`)).status).toBe(400);
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/dlq`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/dlq/replay`)).status).toBe(404);
      const replay = (body: string): Promise<Response> => fetch(`${srv.url}/pipelines/shop/sinks/cache/dlq/replay`, { method: 'POST', body });
      expect((await replay('{"table":"public.t","dryRun":true}')).status).toBe(409);
      const bad = await replay('{"tabel":"x"}');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toContain('unknown field(s) tabel');
      expect((await replay('not json')).status).toBe(400);
      expect((await replay('{"dryRun":"yes"}')).status).toBe(400);
      // snapshot routes: start (202), controls, body checks
      const snap = (body: string): Promise<Response> => fetch(`${srv.url}/pipelines/shop/snapshot`, { method: 'POST', body });
      const started = await snap('{"tables":["public.t"],"conditions":{"public.t":"id > 5"}}');
      expect(started.status).toBe(202);
      expect(await started.json()).toEqual({ id: 'snap-1', status: 'accepted' });
      expect((await fetch(`${srv.url}/pipelines/shop/snapshot/pause`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${srv.url}/pipelines/shop/snapshot`)).status).toBe(405);
      const noTables = await snap('{"tables":[]}');
      expect(noTables.status).toBe(400);
      expect(((await noTables.json()) as { error: string }).error).toContain('"tables" must be a non-empty list');
      expect((await snap('{"tables":["public.t"],"type":"fast"}')).status).toBe(400);
      expect((await snap('{"tables":["public.t"],"conditions":{"public.t":1}}')).status).toBe(400);
      expect((await snap('{"tables":["public.t"],"where":"x"}')).status).toBe(400);
      expect((await fetch(`${srv.url}/pipelines/nope/snapshot/stop`, { method: 'POST' })).status).toBe(404);
      // rebuild: start (202), progress (backend answer), body checks
      const rebuild = (body: string): Promise<Response> => fetch(`${srv.url}/pipelines/shop/sinks/cache/rebuild`, { method: 'POST', body });
      const rebuildStarted = await rebuild('{"tables":["public.orders"],"graceMs":0}');
      expect(rebuildStarted.status).toBe(202);
      expect(await rebuildStarted.json()).toMatchObject({ id: 'j1', state: 'running', request: { tables: ['public.orders'], graceMs: 0 } });
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/rebuild`)).status).toBe(404);
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/rebuild`, { method: 'DELETE' })).status).toBe(405);
      expect(((await (await rebuild('{"tables":"public.orders"}')).json()) as { error: string }).error).toContain('"tables" must be a list of "schema.table"');
      expect((await rebuild('{"graceMs":-1}')).status).toBe(400);
      expect(((await (await rebuild('{"from":"backup"}')).json()) as { error: string }).error).toContain('"from" must be "log"');
      expect((await rebuild('{"from":"snapshot","graceMs":5}')).status).toBe(202);
      expect(((await (await rebuild('{"grace":1}')).json()) as { error: string }).error).toContain('unknown field(s) grace');
      expect(b.actions).toEqual(['shop/cache/pause', 'shop/cache/dlq-list/public.t', 'shop/cache/dlq-replay/public.t/true', 'shop/snapshot/execute/public.t/{"public.t":"id > 5"}/incremental', 'shop/snapshot/pause', 'shop/cache/rebuild/public.orders/0/log', 'shop/cache/rebuild/*/5/snapshot']);
    } finally {
      await srv.close();
    }
  });

  it('requires the bearer token everywhere except /health and the static page', async () => {
    const srv = await startAdminServer(backend(), { host: '127.0.0.1', port: 0, token: 's3cret-token', logger: silentLogger });
    try {
      expect((await fetch(`${srv.url}/health`)).status).toBe(200);
      expect((await fetch(`${srv.url}/`)).status).toBe(200);
      for (const path of ['/pipelines', '/metrics', '/ready']) {
        const res = await fetch(`${srv.url}${path}`);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('Bearer');
      }
      expect((await fetch(`${srv.url}/pipelines`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${srv.url}/pipelines/shop/sinks/cache/pause`, { method: 'POST' })).status).toBe(401);
      expect((await fetch(`${srv.url}/pipelines`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it.skipIf(!existsSync('/usr/bin/openssl'))('serves HTTPS with a certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-admin-tls-'));
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-days', '1'], { stdio: 'ignore' });
    const srv = await startAdminServer(backend(), { host: '127.0.0.1', port: 0, tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, logger: silentLogger });
    try {
      expect(srv.url).toMatch(/^https:/);
      const body = await new Promise<string>((resolve, reject) => {
        request(`${srv.url}/health`, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(JSON.parse(body)).toEqual({ status: 'ok' });
    } finally {
      await srv.close();
    }
  });
});
