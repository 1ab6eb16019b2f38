/**
 * Password and database index from config, against a throwaway password-protected redis-server on
 * port 6391 (the shared Redis has no password): the sink works with the right password and db, and
 * a wrong password is a non-retriable SinkError that says what to check.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../support/ports.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { redisSinkInput } from '../support/redis-config.js';
import { SinkError } from '../../src/sinks/sink.js';
import { nextOffset, pos, sinkBatch, sinkRecord } from '../support/records.js';

// A free port picked at load time, so a server leaked by an earlier run can't answer instead.
const PORT = await freePort();
const PASSWORD = 's3cret-test';
const dir = mkdtempSync(join(tmpdir(), 'cdc-redis-auth-'));
const pidfile = join(dir, 'redis.pid');

beforeAll(async () => {
  execFileSync('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--requirepass', PASSWORD, '--dir', dir, '--daemonize', 'yes', '--pidfile', pidfile]);
  for (let i = 0; i < 50; i++) {
    try {
      readFileSync(pidfile);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(() => {
  try {
    process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
});

it('uses the password and db index from config (in the url, and auth overriding the url)', async () => {
  const tables = ['public.users'];
  const overrides = { 'public.users': { keys: ['user:{id}'] } };
  const check = new Redis({ port: PORT, password: PASSWORD, db: 5 });
  for (const cfg of [{ url: `redis://:${PASSWORD}@127.0.0.1:${PORT}/5`, tables, 'table.overrides': overrides }, { url: `redis://:wrong@127.0.0.1:${PORT}/5`, auth: { password: PASSWORD }, tables, 'table.overrides': overrides }]) {
    await check.set('user:1', 'cached');
    const sink = new RedisSink(redisSinkSpec.parse(cfg), 'cdc:offsets:auth', silentLogger);
    await sink.open();
    const batch = sinkBatch([sinkRecord({ table: 'users', op: 'u', after: { id: 1 }, position: pos(1) })]);
    await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: 0, offset: nextOffset(batch) }]);
    await sink.close();
    expect(await check.exists('user:1')).toBe(0);
    expect(await check.hget('cdc:offsets:auth', `${batch.topic}:0`)).toBe('1');
    await check.del('cdc:offsets:auth');
  }
  await check.quit();
});

it('fails fast with a non-retriable error on a wrong password', async () => {
  const sink = new RedisSink(redisSinkSpec.parse(redisSinkInput(`redis://127.0.0.1:${PORT}`, undefined, { 'public.users': { keys: ['user:{id}'] } }, { auth: { password: 'wrong' } })), 'k', silentLogger);
  const err = await sink.open().then(() => null, (e: unknown) => e);
  await sink.close();
  expect(err).toBeInstanceOf(SinkError);
  expect((err as SinkError).retriable).toBe(false);
  expect((err as SinkError).message).toMatch(/WRONGPASS|invalid password/);
  expect((err as SinkError).message).toContain('check the sink');
});
