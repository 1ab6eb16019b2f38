/**
 * docker-compose.yml stays valid and in step with scripts/stack/endpoints.ts: `docker compose config -q`
 * (or the v1 `docker-compose`) validates it where a compose client is installed, and the YAML itself
 * is checked for the five services, the daemon, and the host ports.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS } from '../../scripts/stack/endpoints.js';

const file = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));

function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return undefined;
}

const compose = composeCommand();

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}

describe('docker-compose.yml', () => {
  it.runIf(compose !== undefined)(`validates with \`${compose?.join(' ') ?? 'docker compose'} config -q\``, () => {
    const [cmd, ...args] = compose!;
    const r = spawnSync(cmd!, [...args, '-f', file, 'config', '-q'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(compose !== undefined)('compose CLI check skipped: neither `docker compose` nor `docker-compose` is installed', () => undefined);

  it('declares the five services and the daemon on the endpoints.ts ports', () => {
    const doc = parse(readFileSync(file, 'utf8')) as { services: Record<string, ComposeService> };
    const s = doc.services;
    expect(Object.keys(s).sort()).toEqual(['cdc-fanout', 'clickhouse', 'elasticsearch', 'kafka', 'postgres', 'redis']);
    const hostPorts = (name: string): number[] => (s[name]?.ports ?? []).map((p) => Number(p.split(':').at(-2)));
    expect(hostPorts('postgres')).toEqual([DEFAULT_PORTS.postgres]);
    expect(hostPorts('kafka')).toEqual([DEFAULT_PORTS.kafka]);
    expect(hostPorts('elasticsearch')).toEqual([DEFAULT_PORTS.elasticsearch]);
    expect(hostPorts('clickhouse')).toEqual([DEFAULT_PORTS.clickhouseHttp, DEFAULT_PORTS.clickhouseTcp]);
    expect(hostPorts('redis')).toEqual([DEFAULT_PORTS.redis]);
    expect(s.postgres?.command).toContain('wal_level=logical');
    expect(s.kafka?.image).toMatch(/^apache\/kafka:/);
    expect(s.elasticsearch?.image).toMatch(/elasticsearch:8\.19\./);
    expect(s.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(s.redis?.image).toMatch(/^redis:7/);
    expect(s['cdc-fanout']?.build).toBe('.');
    // `docker compose up` runs the demo (which starts the daemon inside the container).
    expect(s['cdc-fanout']?.command).toEqual(['node', '--import', 'tsx', 'scripts/demo/main.ts', '--duration', '120']);
    for (const v of ['CDC_PG_URL', 'CDC_KAFKA_BROKERS', 'CDC_ES_URL', 'CDC_CLICKHOUSE_URL', 'CDC_REDIS_URL']) {
      expect(s['cdc-fanout']?.environment?.[v], v).toBeTruthy();
    }
  });
});
