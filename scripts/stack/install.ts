/**
 * First-run installation: Debian packages (apt-get, once per run) and the Maven-resolved jars.
 * Nothing is installed when it is already present, so a warm `stack:up` never touches the network.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_LIB, STACK_SRC } from './paths.js';

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function packageInstalled(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

let aptUpdated = false;

/**
 * apt-get install the packages that are missing. Services are kept from auto-starting during the
 * install (policy-rc.d), because the stack runs them itself on its own terms.
 */
export function aptEnsure(packages: readonly string[], why: string): void {
  const missing = packages.filter((p) => !packageInstalled(p));
  if (missing.length === 0) return;
  if (!commandExists('apt-get')) {
    throw new Error(`${why}: packages ${missing.join(', ')} are missing and apt-get is not available; install them by hand.`);
  }
  const sudo = process.getuid?.() === 0 ? [] : commandExists('sudo') ? ['sudo', '-n'] : undefined;
  if (sudo === undefined) throw new Error(`${why}: packages ${missing.join(', ')} are missing; run as root or install them: apt-get install -y ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = sudo.length === 0 && !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const run = (args: string[]): void => {
      const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
      console.log(`stack: ${why}: ${[cmd, ...rest].join(' ')}`);
      const r = spawnSync(cmd!, rest, { stdio: 'inherit', env });
      if (r.status !== 0) throw new Error(`${why}: \`apt-get ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}).`);
    };
    if (!aptUpdated) {
      run(['update', '-q']);
      aptUpdated = true;
    }
    run(['install', '-y', '-q', '--no-install-recommends', ...missing]);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

function pomHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      // debezium/: resolved on demand by scripts/stack/debezium.ts with its own stamp, never by stack:up
      if (e.name === 'lib' || e.name === 'target' || e.name === 'debezium') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'pom.xml' || e.name.endsWith('.java')) h.update(p).update(readFileSync(p));
    }
  };
  walk(STACK_SRC);
  return h.digest('hex');
}

/** Run Maven when the jars are missing or the poms / launcher source changed since the last build. */
export function mavenEnsure(): void {
  const stamp = join(STACK_LIB, '.stamp');
  const want = pomHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return;
  if (!commandExists('mvn') || !commandExists('javac')) aptEnsure(['maven', 'openjdk-17-jdk-headless'], 'Maven and a JDK for the Kafka/Elasticsearch jars');
  console.log('stack: resolving Kafka and Elasticsearch jars from Maven Central (mvn -f stack/pom.xml package)…');
  const started = Date.now();
  const r = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', join(STACK_SRC, 'pom.xml'), 'package'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`Maven could not resolve/build the stack jars (mvn -f stack/pom.xml package, exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
  writeFileSync(stamp, `${want}\n`);
  console.log(`stack: jars ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/** Java major version of the `java` on PATH (or of the given binary). */
export function javaMajor(java = 'java'): number {
  const r = spawnSync(java, ['-XshowSettings:properties', '-version'], { encoding: 'utf8' });
  const m = /java\.specification\.version = (\d+)/.exec(r.stderr);
  return m ? Number(m[1]) : 0;
}
