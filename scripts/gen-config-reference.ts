/**
 * Regenerates docs/config-reference.md from the schema (the README links to it).
 * `--check` changes nothing and exits 1 when it is out of date.
 *   npm run docs:config [-- --check]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadComponents } from '../src/config/components.js';
import { renderReference } from '../src/config/reference.js';
import { buildProgram } from '../src/cli/program.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const body = renderReference(await loadComponents(), buildProgram({}));
const docPath = join(root, 'docs', 'config-reference.md');
const doc = `# Configuration reference\n\n${body}\n`;
const current = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
if (check) {
  if (current !== doc) {
    process.stderr.write('docs/config-reference.md is out of date; run: npm run docs:config\n');
    process.exit(1);
  }
  process.stdout.write('config reference up to date\n');
} else {
  mkdirSync(dirname(docPath), { recursive: true });
  writeFileSync(docPath, doc);
  process.stdout.write('wrote docs/config-reference.md\n');
}
