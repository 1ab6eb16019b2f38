/**
 * Reads vitest JSON reports (`--reporter=json --outputFile=…`) for scripts/test.sh.
 *
 *   tsx scripts/test-report.ts failed-files REPORT       the failed test files, one per line
 *   tsx scripts/test-report.ts summary LABEL REPORT…     a short account of every failed test
 *
 * `summary` is printed as the last lines of `npm test`, so a CI log that keeps only its tail still
 * names what failed and why (first lines of each failure message, ANSI codes removed).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface AssertionResult {
  fullName?: string;
  title?: string;
  status: string;
  failureMessages?: string[];
}
interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults?: AssertionResult[];
}
interface Report {
  numFailedTests?: number;
  numFailedTestSuites?: number;
  testResults?: FileResult[];
}

function read(path: string): Report | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Report;
  } catch {
    return undefined;
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const plain = (s: string): string => s.replace(ANSI, '');
const rel = (f: string): string => relative(process.cwd(), f);

function failedFiles(r: Report): string[] {
  return (r.testResults ?? []).filter((f) => f.status !== 'passed' && f.status !== 'skipped' && f.status !== 'pending').map((f) => rel(f.name));
}

function firstLines(msg: string, n: number): string[] {
  return plain(msg)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !/^\s*at .*(node_modules|node:internal|<anonymous>)/.test(l))
    .slice(0, n)
    .map((l) => (l.length > 220 ? `${l.slice(0, 217)}...` : l));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'failed-files') {
  const r = args[0] ? read(args[0]) : undefined;
  if (r) for (const f of failedFiles(r)) console.log(f);
} else if (cmd === 'summary') {
  const [label, ...paths] = args;
  for (const p of paths) {
    const r = read(p);
    if (!r) {
      console.log(`${label}: no report at ${p} (vitest did not finish?)`);
      continue;
    }
    for (const f of (r.testResults ?? []).filter((x) => failedFiles({ testResults: [x] }).length > 0)) {
      const failed = (f.assertionResults ?? []).filter((a) => a.status === 'failed');
      if (failed.length === 0) {
        console.log(`${label}: ${rel(f.name)}: ${firstLines(f.message ?? 'failed (no message)', 3).join(' | ')}`);
      }
      for (const a of failed) {
        console.log(`${label}: ${rel(f.name)} > ${a.fullName ?? a.title ?? '?'}`);
        for (const l of firstLines((a.failureMessages ?? []).join('\n'), 4)) console.log(`    ${l}`);
      }
    }
  }
} else {
  console.error('usage: test-report.ts failed-files REPORT | summary LABEL REPORT…');
  process.exit(2);
}
