/**
 * bin/cdc-fanout.js runs dist/ only while it is at least as new as every file under src/: tests
 * spawn the CLI without building, so a dist/ left from an earlier build must not run stale code.
 * The entry point (with bin/dist-fresh.js, which holds the rule) is copied into a scratch root whose dist/ and src/ each print which one ran.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const root = mkdtempSync(join(tmpdir(), 'cdc-bin-'));
mkdirSync(join(root, 'bin'));
mkdirSync(join(root, 'dist/cli'), { recursive: true });
mkdirSync(join(root, 'src/cli/deep'), { recursive: true });
for (const f of ['cdc-fanout.js', 'dist-fresh.js']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
writeFileSync(join(root, 'package.json'), '{"type":"module"}');
writeFileSync(join(root, 'dist/cli/main.js'), "console.log('ran dist');\n");
writeFileSync(join(root, 'src/cli/main.ts'), "const from: string = 'src';\nconsole.log(`ran ${from}`);\n");
writeFileSync(join(root, 'src/cli/deep/other.ts'), 'export {};\n');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(): { out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/cdc-fanout.js')], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { out: r.stdout.trim(), err: r.stderr };
}

const at = (s: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

it('runs dist/ when it is newer than every source file', () => {
  utimesSync(join(root, 'src/cli/main.ts'), at(1), at(1));
  utimesSync(join(root, 'src/cli/deep/other.ts'), at(2), at(2));
  utimesSync(join(root, 'dist/cli/main.js'), at(3), at(3));
  expect(run()).toEqual({ out: 'ran dist', err: '' });
});

it('runs the sources, and says so, when any source file (at any depth) changed after the build', () => {
  utimesSync(join(root, 'src/cli/deep/other.ts'), at(4), at(4));
  const r = run();
  expect(r.out).toBe('ran src');
  expect(r.err).toContain('dist/ is older than src/');
});

it('runs the sources without a note when there is no dist/', () => {
  rmSync(join(root, 'dist'), { recursive: true });
  expect(run()).toEqual({ out: 'ran src', err: '' });
});
