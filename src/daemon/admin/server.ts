/**
 * The admin HTTP(S) server (node:http, no framework): /health (liveness: the process answers),
 * /ready (readiness: every component RUNNING or PAUSED — a source may be STANDBY or DISABLED — else 503), /metrics, /pipelines, /history,
 * POST /pipelines/:p/sinks/:s/{pause,resume,restart}, snapshots (POST /pipelines/:p/snapshot and
 * /pipelines/:p/snapshot/{pause,resume,stop}), the dead-letter topic of a sink
 * (GET /pipelines/:p/sinks/:s/dlq, POST and GET /pipelines/:p/sinks/:s/dlq/replay) and the live page at /. Loopback by default;
 * with a token, every route except /health and the static page needs `Authorization: Bearer <token>`.
 * Everything it returns has been through redact().
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { registry } from '../../observability/metrics.js';
import { daemonMetrics } from '../../observability/daemon-metrics.js';
import type { Logger } from '../../observability/logger.js';
import type { ComponentState, DaemonHistory, PipelineStatus } from '../status.js';
import { PAGE_HTML } from './page.js';
import type { SnapshotRequest } from '../../source/postgres-source.js';
import type { DlqReplayJob, DlqResult } from '../dlq-jobs.js';
import type { RebuildJob, RebuildRequest, RebuildResult } from '../rebuild-jobs.js';
import type { DlqListing } from '../../sinks/runtime/dlq-replay.js';

export type SinkAction = 'pause' | 'resume' | 'restart';

export interface AdminBackend {
  /** Status of every pipeline, already redacted. */
  pipelines(): Promise<PipelineStatus[]>;
  /** Readiness, and which components keep it from being ready ("pipeline/component: STATE (reason)"). */
  ready(): { ready: boolean; notReady: string[] };
  /** The last minutes of every component (GET /history, for the live page's charts), already redacted. */
  history(): DaemonHistory;
  sinkAction(pipeline: string, sink: string, action: SinkAction): Promise<{ ok: true; state: ComponentState } | { ok: false; status: number; error: string }>;
  /** GET /pipelines/:p/sinks/:s/dlq[?table=schema.table]: what the sink's dead-letter topic holds. */
  dlqList(pipeline: string, sink: string, table: string | undefined): Promise<DlqResult<DlqListing>>;
  /** POST /pipelines/:p/sinks/:s/dlq/replay {table?, dryRun?}: starts a replay job (202), 409 while one runs. */
  dlqReplay(pipeline: string, sink: string, req: { table?: string | undefined; dryRun?: boolean | undefined }): DlqResult<DlqReplayJob>;
  /** GET /pipelines/:p/sinks/:s/dlq/replay: the sink's last replay job (running or finished). */
  dlqReplayStatus(pipeline: string, sink: string): DlqResult<DlqReplayJob>;
  /** POST /pipelines/:p/sinks/:s/rebuild {tables?, graceMs?, from?}: starts a rebuild into a new generation (202), 409 while one runs. */
  rebuild?(pipeline: string, sink: string, req: RebuildRequest): RebuildResult<RebuildJob>;
  /** GET /pipelines/:p/sinks/:s/rebuild: the sink's last rebuild job (running or finished). */
  rebuildStatus?(pipeline: string, sink: string): RebuildResult<RebuildJob>;
  /**
   * POST /pipelines/:p/snapshot {tables, conditions?, type?} (202) and
   * POST /pipelines/:p/snapshot/{pause,resume,stop}: snapshot requests for the pipeline's source.
   */
  snapshot(pipeline: string, req: SnapshotRequest): Promise<DlqResult<{ readonly id: string; readonly status: 'accepted' | 'done' }>>;
}

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly logger: Logger;
}

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A small JSON object body (empty = {}); at most 64 KiB. */
function readJson(req: IncomingMessage): Promise<{ ok: true; value: Record<string, unknown> } | { ok: false; error: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 65536) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > 65536) return resolve({ ok: false, error: 'request body larger than 64 KiB' });
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({ ok: true, value: {} });
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) return resolve({ ok: true, value: v as Record<string, unknown> });
        resolve({ ok: false, error: 'the body must be a JSON object, e.g. {"table": "public.users", "dryRun": true}' });
      } catch (e) {
        resolve({ ok: false, error: `the body is not JSON: ${(e as Error).message}` });
      }
    });
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1] as string).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export async function startAdminServer(backend: AdminBackend, opts: AdminOptions): Promise<AdminServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    let route = 'other';
    res.on('finish', () => {
      daemonMetrics.adminRequests.observe({ route, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/health') {
      route = '/health';
      send(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/' || path === '/index.html') {
      route = '/';
      send(res, 200, PAGE_HTML, 'text/html; charset=utf-8');
      return;
    }
    if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) {
      route = 'unauthorized';
      res.setHeader('www-authenticate', 'Bearer realm="cdc-fanout"');
      send(res, 401, { error: 'missing or wrong bearer token' });
      return;
    }
    if (path === '/ready' && method === 'GET') {
      route = '/ready';
      const r = backend.ready();
      send(res, r.ready ? 200 : 503, r);
      return;
    }
    if (path === '/history' && method === 'GET') {
      route = '/history';
      send(res, 200, backend.history());
      return;
    }
    if (path === '/metrics' && method === 'GET') {
      route = '/metrics';
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (err: unknown) => send(res, 500, { error: String(err) }),
      );
      return;
    }
    if (path === '/pipelines' && method === 'GET') {
      route = '/pipelines';
      backend.pipelines().then(
        (pipelines) => send(res, 200, { pipelines }),
        (err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    const one = /^\/pipelines\/([^/]+)$/.exec(path);
    if (one && method === 'GET') {
      route = '/pipelines/:p';
      const name = decodeURIComponent(one[1] as string);
      backend.pipelines().then(
        (list) => {
          const p = list.find((x) => x.name === name);
          if (p) send(res, 200, p);
          else send(res, 404, { error: `no pipeline "${name}"` });
        },
        (err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    const act = /^\/pipelines\/([^/]+)\/sinks\/([^/]+)\/(pause|resume|restart)$/.exec(path);
    if (act) {
      route = `/pipelines/:p/sinks/:s/${act[3] as string}`;
      if (method !== 'POST') {
        res.setHeader('allow', 'POST');
        send(res, 405, { error: 'use POST' });
        return;
      }
      backend.sinkAction(decodeURIComponent(act[1] as string), decodeURIComponent(act[2] as string), act[3] as SinkAction).then(
        (r) => (r.ok ? send(res, 200, { state: r.state }) : send(res, r.status, { error: r.error })),
        (err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    const snap = /^\/pipelines\/([^/]+)\/snapshot(?:\/(pause|resume|stop))?$/.exec(path);
    if (snap) {
      route = snap[2] ? `/pipelines/:p/snapshot/${snap[2]}` : '/pipelines/:p/snapshot';
      if (method !== 'POST') {
        res.setHeader('allow', 'POST');
        send(res, 405, { error: 'use POST (progress: GET /pipelines/:p, source.incremental)' });
        return;
      }
      const p = decodeURIComponent(snap[1] as string);
      const fail = (err: unknown): void => send(res, 500, { error: err instanceof Error ? err.message : String(err) });
      const reply = (r: DlqResult<{ readonly id: string; readonly status: 'accepted' | 'done' }>): void => (r.ok ? send(res, r.value.status === 'accepted' ? 202 : 200, r.value) : send(res, r.status, { error: r.error }));
      if (snap[2] === 'pause' || snap[2] === 'resume') {
        backend.snapshot(p, { kind: snap[2] }).then(reply, fail);
        return;
      }
      if (snap[2] === 'stop') {
        readJson(req).then((body) => {
          if (!body.ok) return send(res, 400, { error: body.error });
          const t = body.value.tables;
          const unknown = Object.keys(body.value).filter((k) => k !== 'tables');
          if (unknown.length || (t !== undefined && (!Array.isArray(t) || !t.every((x) => typeof x === 'string')))) {
            return send(res, 400, { error: 'the body is empty (stop the whole incremental snapshot) or {"tables": ["schema.table", …]} (remove those tables from it)' });
          }
          backend.snapshot(p, { kind: 'stop', tables: (t ?? []) as string[] }).then(reply, fail);
        }, fail);
        return;
      }
      readJson(req).then((body) => {
        if (!body.ok) return send(res, 400, { error: body.error });
        const b = body.value;
        const shape = 'the body is {"tables": ["schema.table", …], "conditions"?: {"schema.table": "SQL filter"}, "type"?: "incremental" | "blocking"}';
        if (!Array.isArray(b.tables) || b.tables.length === 0 || !b.tables.every((t) => typeof t === 'string')) return send(res, 400, { error: `"tables" must be a non-empty list of "schema.table"; ${shape}` });
        if (b.conditions !== undefined && (typeof b.conditions !== 'object' || b.conditions === null || Array.isArray(b.conditions) || !Object.values(b.conditions).every((v) => typeof v === 'string'))) {
          return send(res, 400, { error: `"conditions" must map "schema.table" to a SQL filter string; ${shape}` });
        }
        if (b.type !== undefined && b.type !== 'incremental' && b.type !== 'blocking') return send(res, 400, { error: `"type" must be "incremental" or "blocking"; ${shape}` });
        const unknown = Object.keys(b).filter((k) => !['tables', 'conditions', 'type'].includes(k));
        if (unknown.length) return send(res, 400, { error: `unknown field(s) ${unknown.join(', ')}; ${shape}` });
        backend
          .snapshot(p, { kind: 'execute', tables: b.tables as string[], conditions: (b.conditions ?? {}) as Record<string, string>, type: (b.type ?? 'incremental') as 'incremental' | 'blocking' })
          .then(reply, fail);
      }, fail);
      return;
    }
    const dlq = /^\/pipelines\/([^/]+)\/sinks\/([^/]+)\/dlq(\/replay)?$/.exec(path);
    if (dlq) {
      const p = decodeURIComponent(dlq[1] as string);
      const s = decodeURIComponent(dlq[2] as string);
      const reply = <T>(r: DlqResult<T>, okStatus = 200): void => (r.ok ? send(res, okStatus, r.value) : send(res, r.status, { error: r.error }));
      const fail = (err: unknown): void => send(res, 500, { error: err instanceof Error ? err.message : String(err) });
      if (!dlq[3]) {
        route = '/pipelines/:p/sinks/:s/dlq';
        if (method !== 'GET') {
          res.setHeader('allow', 'GET');
          send(res, 405, { error: 'use GET' });
          return;
        }
        backend.dlqList(p, s, url.searchParams.get('table') ?? undefined).then((r) => reply(r), fail);
        return;
      }
      route = '/pipelines/:p/sinks/:s/dlq/replay';
      if (method === 'GET') {
        reply(backend.dlqReplayStatus(p, s));
        return;
      }
      if (method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        send(res, 405, { error: 'use POST to start a replay, GET for its progress' });
        return;
      }
      readJson(req).then((body) => {
        if (!body.ok) {
          send(res, 400, { error: body.error });
          return;
        }
        const b = body.value;
        if (b.table !== undefined && typeof b.table !== 'string') return send(res, 400, { error: '"table" must be a string "schema.table"' });
        if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean') return send(res, 400, { error: '"dryRun" must be true or false' });
        const unknown = Object.keys(b).filter((k) => k !== 'table' && k !== 'dryRun');
        if (unknown.length) return send(res, 400, { error: `unknown field(s) ${unknown.join(', ')}; the body is {"table"?: "schema.table", "dryRun"?: boolean}` });
        reply(backend.dlqReplay(p, s, { table: b.table as string | undefined, dryRun: b.dryRun as boolean | undefined }), 202);
      }, fail);
      return;
    }
    const rebuild = /^\/pipelines\/([^/]+)\/sinks\/([^/]+)\/rebuild$/.exec(path);
    if (rebuild && backend.rebuild && backend.rebuildStatus) {
      route = '/pipelines/:p/sinks/:s/rebuild';
      const p = decodeURIComponent(rebuild[1] as string);
      const s = decodeURIComponent(rebuild[2] as string);
      const reply = <T>(r: RebuildResult<T>, okStatus = 200): void => (r.ok ? send(res, okStatus, r.value) : send(res, r.status, { error: r.error }));
      if (method === 'GET') {
        reply(backend.rebuildStatus(p, s));
        return;
      }
      if (method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        send(res, 405, { error: 'use POST to start a rebuild, GET for its progress' });
        return;
      }
      const start = backend.rebuild.bind(backend);
      readJson(req).then(
        (body) => {
          if (!body.ok) return send(res, 400, { error: body.error });
          const b = body.value;
          const tables = b.tables;
          if (tables !== undefined && !(Array.isArray(tables) && tables.every((t) => typeof t === 'string' && /^[^.\s]+\.[^.\s]+$/.test(t)))) {
            return send(res, 400, { error: '"tables" must be a list of "schema.table", e.g. ["public.orders"]' });
          }
          if (b.graceMs !== undefined && !(typeof b.graceMs === 'number' && Number.isSafeInteger(b.graceMs) && b.graceMs >= 0)) return send(res, 400, { error: '"graceMs" must be a whole number of milliseconds ≥ 0' });
          if (b.from !== undefined && b.from !== 'log' && b.from !== 'snapshot') return send(res, 400, { error: '"from" must be "log" (default: offset 0 of the topics) or "snapshot" (a fresh incremental snapshot; docs/rebuild.md)' });
          const unknown = Object.keys(b).filter((k) => k !== 'tables' && k !== 'graceMs' && k !== 'from');
          if (unknown.length) return send(res, 400, { error: `unknown field(s) ${unknown.join(', ')}; the body is {"tables"?: ["schema.table"], "graceMs"?: number, "from"?: "log" | "snapshot"}` });
          reply(start(p, s, { tables: tables as string[] | undefined, graceMs: b.graceMs as number | undefined, from: b.from as 'log' | 'snapshot' | undefined }), 202);
        },
        (err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    send(res, 404, { error: `no route ${method} ${path}` });
  };

  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createHttpServer(handler);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${opts.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  opts.logger.info({ url, auth: opts.token ? 'bearer' : 'none' }, `admin server listening on ${url}`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
