/**
 * Regenerates the config reference from the schema: the block between
 * <!-- config-reference:start --> and <!-- config-reference:end --> in README.md, and
 * docs/config-reference.md. `--check` changes nothing and exits 1 when either is out of date.
 *   npm run docs:config [-- --check]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadComponents } from '../src/config/components.js';
import { REFERENCE_END, REFERENCE_START, renderReference, spliceReference } from '../src/config/reference.js';
import { buildProgram } from '../src/cli/program.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const body = renderReference(await loadComponents(), buildProgram({}));
const readmePath = join(root, 'README.md');
const docPath = join(root, 'docs', 'config-reference.md');
const doc = `# Configuration reference\n\n${body}\n`;

const hasReadme = existsSync(readmePath);
let readme = hasReadme ? readFileSync(readmePath, 'utf8') : '';
if (hasReadme && !readme.includes(REFERENCE_START)) {
  if (check) {
    process.stderr.write(`README.md has no ${REFERENCE_START} block; run npm run docs:config\n`);
    process.exit(1);
  }
  readme = `${readme.trimEnd()}\n\n## Configuration reference\n\n${REFERENCE_START}\n${REFERENCE_END}\n`;
}
const nextReadme = hasReadme ? spliceReference(readme, body) : readme;
const current = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
if (check) {
  const stale = [nextReadme !== readme ? 'README.md' : '', current !== doc ? 'docs/config-reference.md' : ''].filter(Boolean);
  if (stale.length) {
    process.stderr.write(`config reference out of date in ${stale.join(' and ')}; run: npm run docs:config\n`);
    process.exit(1);
  }
  process.stdout.write('config reference up to date\n');
} else {
  if (hasReadme) writeFileSync(readmePath, nextReadme);
  mkdirSync(dirname(docPath), { recursive: true });
  writeFileSync(docPath, doc);
  process.stdout.write(`wrote ${hasReadme ? 'README.md (config reference block) and ' : ''}docs/config-reference.md\n`);
}
