/**
 * The stack scripts themselves: status reports every service healthy, a second `up` is a no-op,
 * and a port held by a foreign process is refused with a message naming the port and the holder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function stack(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/stack/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let foreign: Server | undefined;
afterAll(() => foreign?.close());

describe('stack scripts', () => {
  it('status --json lists the five services, all healthy', () => {
    const r = stack(['status', '--json']);
    expect(r.status, r.out).toBe(0);
    const rows = JSON.parse(r.out) as { service: string; healthy: boolean }[];
    expect(rows.map((x) => x.service).sort()).toEqual(['clickhouse', 'elasticsearch', 'kafka', 'postgres', 'redis']);
    expect(rows.filter((x) => !x.healthy)).toEqual([]);
  });

  it('up on a healthy stack changes nothing', () => {
    const r = stack(['up']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/\bstarted \(pid/);
    expect(r.out).toMatch(/kafka\s+already running/);
  });

  it('refuses a port taken by something that is not its service, naming port and holder', async () => {
    foreign = createServer((_, res) => res.end('not clickhouse'));
    await new Promise<void>((resolve) => foreign!.listen(0, '127.0.0.1', resolve));
    const port = (foreign.address() as AddressInfo).port;
    // A separate (empty) state dir, so stack:up owns no ClickHouse there and must start one.
    const dir = mkdtempSync(join(tmpdir(), 'cdc-stack-'));
    const r = stack(['up', 'clickhouse'], { CDC_STACK_DIR: dir, CDC_CLICKHOUSE_URL: `http://127.0.0.1:${port}` });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.out).toContain(`clickhouse: port 127.0.0.1:${port} is already in use by pid ${process.pid}`);
    expect(r.out).toContain('which stack:up did not start');
  });

  it('refuses to silently move a running service to other ports', () => {
    const r = stack(['up', 'clickhouse'], { CDC_CLICKHOUSE_URL: 'http://127.0.0.1:1' });
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/clickhouse: already running \(pid \d+\) on .*not on the configured 127\.0\.0\.1 ports 1 /);
  });
});
