/**
 * The README's demo, in short mode, as part of `npm test`: the whole pipeline (daemon with the
 * source and all three sinks) under a write workload with a PK update and a schema change, ending
 * in a reconciliation report that must be all-equal (the script exits non-zero otherwise).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('npm run demo (short mode)', () => {
  it('reconciles Postgres with Elasticsearch, ClickHouse and Redis after 20 s of load', async () => {
    // Asynchronous on purpose: a synchronous spawn would block this worker for minutes and vitest's
    // worker RPC times out after 60 s.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'demo', 'main.ts'), '--duration', '20', '--rate', '40', '--admin-port', '18093'], {
        cwd: root,
        env: { ...process.env, CDC_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 480_000);
      child.on('error', reject);
      child.on('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
    const out = `${run.stdout}\n${run.stderr}`;
    if (run.status !== 0) console.log(out);
    expect(run.status).toBe(0);
    expect(out).toContain('RECONCILED: every sink equals Postgres.');
    expect(out).toMatch(/customers +\d+ +\d+ ✓ +\d+ ✓/);
    expect(out).toMatch(/invalidated (\d+)\/\1 changed-row keys/);
    expect(out).toContain('1 primary-key update, 1 schema change');
  }, 540_000);
});
