/**
 * Redis: use the one already answering PING on the configured port (e.g. the distribution's
 * service); otherwise run Debian's redis-server ourselves with data under .stack/redis.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULT_PORTS, endpoints } from './endpoints.js';
import { aptEnsure, commandExists } from './install.js';
import { managedDown, managedUp, type ManagedSpec } from './managed.js';
import { listenerOf } from './net.js';
import { serviceDir } from './paths.js';
import { runningPid } from './proc.js';
import type { Health, Service } from './service.js';

const DIR = serviceDir('redis');
const LOG = join(DIR, 'redis.log');

function address(): { host: string; port: number } {
  const url = new URL(endpoints().redisUrl);
  return { host: url.hostname, port: Number(url.port || DEFAULT_PORTS.redis) };
}

async function health(): Promise<Health> {
  const { host, port } = address();
  const client = new Redis({ host, port, lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pong = await client.ping();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    return pong === 'PONG' ? { healthy: true, detail: `version ${version}` } : { healthy: false, detail: `PING answered ${pong}` };
  } catch (err) {
    return { healthy: false, detail: (err as Error).message };
  } finally {
    client.disconnect();
  }
}

function spec(): ManagedSpec {
  const { host, port } = address();
  return {
    name: 'redis',
    host,
    ports: [port],
    envHint: 'CDC_REDIS_URL',
    logFile: LOG,
    startTimeoutMs: 30_000,
    stopGraceMs: 10_000,
    health,
    async prepare(clean) {
      if (clean) rmSync(join(DIR, 'data'), { recursive: true, force: true });
      mkdirSync(join(DIR, 'data'), { recursive: true });
    },
    launch() {
      return {
        command: 'redis-server',
        args: ['--bind', host, '--port', String(port), '--dir', join(DIR, 'data'), '--daemonize', 'no', '--save', '60 1', '--appendonly', 'no', '--maxmemory', '256mb', '--protected-mode', 'no'],
        cwd: DIR,
        logFile: LOG,
        pidFile: join(DIR, 'redis.pid'),
        marker: 'redis-server',
      };
    },
  };
}

export const redis: Service = {
  name: 'redis',
  get endpoint() {
    const { host, port } = address();
    return `redis://${host}:${port}`;
  },
  logFile: LOG,
  async install() {
    if (!(await health()).healthy && !commandExists('redis-server')) aptEnsure(['redis-server'], 'Redis');
  },
  health,
  ownedPid: () => runningPid(spec().launch()),
  async up({ clean }) {
    if (runningPid(spec().launch()) === undefined && (await health()).healthy) {
      return `using the Redis already running there (${listenerOf(address().port)}; not managed by stack:down)`;
    }
    return managedUp(spec(), clean);
  },
  async down() {
    const note = await managedDown(spec());
    return note === 'not running' && (await health()).healthy ? 'left running (not started by stack:up)' : note;
  },
};
