/**
 * Smoke: the Node.js the suite runs on. `npm test` switches to Node 24 before anything else
 * (scripts/node.sh); this proves it reached the test runner and the children the tests spawn —
 * both through process.execPath and through `node`/`npx` from PATH (the crash harness, bench
 * builds) — and that the CLI refuses a Node older than package.json's engines with a clear line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

type Version = [number, number, number];
const parse = (v: string): Version => {
  const [a = 0, b = 0, c = 0] = v.replace(/^v/, '').split('.').map(Number);
  return [a, b, c];
};
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The range forms package.json uses: `^X.Y.Z` and `>=X[.Y[.Z]]`, joined by `||`. */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((part) => {
    const p = part.trim();
    const caret = /^\^(\d+(?:\.\d+){0,2})$/.exec(p);
    if (caret) {
      const min = parse(caret[1] as string);
      return v[0] === min[0] && compare(v, min) >= 0;
    }
    const gte = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(p);
    if (gte) return compare(v, parse(gte[1] as string)) >= 0;
    throw new Error(`package.json engines.node: range part "${p}" is not one this test understands (^X.Y.Z or >=X.Y.Z)`);
  });
}

/** `node` binaries on PATH other than the one running the suite, with their versions. */
function otherNodesOnPath(): { path: string; version: string }[] {
  const found: { path: string; version: string }[] = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, 'node');
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const version = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (version && version !== process.versions.node) found.push({ path, version });
  }
  return found;
}
/** An unsupported Node on this machine (e.g. the system Node that npm test switched away from), if any. */
const older = otherNodesOnPath().find((n) => !satisfies(n.version, engines));

describe('runtime', () => {
  it(`runs on a Node.js package.json supports (${engines}), Node 24+ under npm test`, () => {
    console.log(`node ${process.version} (${process.execPath}); engines ${engines}`);
    expect(satisfies(process.versions.node, engines), `Node ${process.versions.node} is outside engines "${engines}"`).toBe(true);
    // The range check itself must be able to say no.
    expect(satisfies('20.20.2', engines)).toBe(false);
    expect(satisfies('22.21.9', engines)).toBe(false);
    // npm test (the suite and CI) runs on Node 24 even where the system Node is older.
    if (process.env.npm_lifecycle_event === 'test') expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });

  it('gives children started by name (node, npx tsx) the same Node as the runner', () => {
    const viaPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim();
    expect(viaPath, 'the `node` on PATH differs from the one running vitest: run the suite through npm test (scripts/node.sh)').toBe(process.version);
    const viaNpx = execFileSync('npx', ['tsx', '-e', 'console.log(process.version)'], { cwd: root, encoding: 'utf8', timeout: 60_000 }).trim();
    expect(viaNpx).toBe(process.version);
  });

  it('scripts/node.sh names a Node 24+ (the one npm test and npm run demo switch to)', () => {
    // Already installed (or a system Node 24+) here, so this is the quick path: no download.
    const out = execFileSync('bash', [join(root, 'scripts', 'node.sh')], { encoding: 'utf8', timeout: 120_000 }).trim();
    const m = /^(\/\S+\/node) v(\d+\.\d+\.\d+)$/m.exec(out);
    expect(m, out).not.toBeNull();
    const [, path, version] = m as RegExpExecArray;
    expect(parse(version as string)[0]).toBeGreaterThanOrEqual(24);
    expect(execFileSync(path as string, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toBe(version);
  });

  it.skipIf(!older)(`cdc-fanout refuses an older Node with a clear message (${older?.path ?? 'none found'} ${older?.version ?? ''})`, () => {
    const r = spawnSync(older?.path as string, [join(root, 'bin', 'cdc-fanout.js'), '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cdc-fanout needs Node.js 22.22 or newer`);
    expect(r.stderr).toContain(`this is Node.js ${older?.version as string}`);
    expect(r.stdout).toBe('');
  });
});
