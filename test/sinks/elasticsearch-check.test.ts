// The Elasticsearch sink's online check (validate --online): write privileges. The local cluster
// has no security module, so it is checked for "nothing to report"; a cluster with security is a
// small HTTP stand-in (Elasticsearch's info and _has_privileges answers) — the real client talks to
// it, and the check must name the user, the index and the privilege it lacks.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { plugin } from '../../src/sinks/elasticsearch/index.js';

const ctx = { pipeline: 'chk', sinkName: 'search', topicPrefix: 'chk', groupId: 'g', path: ['sinks', 1], tables: ['public.users'], topicOf: (t: string) => `chk.${t}`, database: 'shop', catalog: null, timeoutMs: 10_000 };

let server: Server;
let url: string;
const asked: unknown[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-elastic-product', 'Elasticsearch');
      if (req.url === '/') return res.end(JSON.stringify({ name: 'fake', cluster_name: 'fake', version: { number: '8.15.0' }, tagline: 'You Know, for Search' }));
      if (req.url?.startsWith('/_security/user/_has_privileges')) {
        asked.push(JSON.parse(body));
        return res.end(
          JSON.stringify({
            username: 'cdc',
            has_all_requested: false,
            cluster: { monitor: true },
            index: { 'chk.public.users': { create_index: false, write: true, read: true }, 'cdc-fanout-checkpoints': { create_index: true, write: true, read: true } },
            application: {},
          }),
        );
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('elasticsearch online check: write privileges', () => {
  it('names the index and privilege the user lacks (cluster with security)', async () => {
    const report = await plugin.check!(plugin.spec.parse({ url, auth: { username: 'cdc', password: 'pw' } }), ctx);
    expect(asked).toEqual([{ cluster: ['monitor'], index: [{ names: ['cdc-fanout-checkpoints', 'chk.public.users'], privileges: ['create_index', 'write', 'read'] }] }]);
    expect(report.findings).toEqual([
      {
        severity: 'error',
        path: ['sinks', 1, 'auth'],
        message: 'Elasticsearch user "cdc" lacks privileges the sink needs: chk.public.users: create_index',
        fix: 'grant its role the index privileges create_index, write, read on the sink\'s indices and cdc-fanout-checkpoints, and the cluster privilege monitor',
      },
    ]);
  });

  it('has nothing to report on a cluster without security (the local one)', async () => {
    const report = await plugin.check!(plugin.spec.parse({ url: endpoints().elasticsearchUrl }), ctx);
    expect(report.version).toMatch(/^Elasticsearch \d+\./);
    expect(report.findings).toEqual([]);
  });
});
