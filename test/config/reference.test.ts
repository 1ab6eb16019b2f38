// The config reference is generated from the schema: every field must be described, and the
// committed docs (docs/config-reference.md, README block) must match what the schema renders now.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { loadComponents } from '../../src/config/components.js';
import { REFERENCE_END, REFERENCE_START, referenceSections, renderReference } from '../../src/config/reference.js';

const root = join(import.meta.dirname, '..', '..');

describe('config reference', () => {
  it('every field of every spec has a description', async () => {
    const c = await loadComponents();
    const sections = referenceSections(c);
    const fields = sections.flatMap((s) => s.fields.map((f) => `${s.title}: ${f.path}`));
    expect(fields.length).toBeGreaterThan(60);
    const missing = sections.flatMap((s) => s.fields.filter((f) => !f.description?.trim()).map((f) => `${s.title}: ${f.path}`));
    expect(missing, 'fields without .describe(...)').toEqual([]);
    // every registered sink type is documented
    expect(sections.map((s) => s.title)).toEqual(expect.arrayContaining(['`sinks[]` with `type: elasticsearch`', '`sinks[]` with `type: clickhouse`', '`sinks[]` with `type: redis`']));
  });

  it('docs/config-reference.md and the README block are up to date (npm run docs:config)', async () => {
    const body = renderReference(await loadComponents(), buildProgram({}));
    const doc = readFileSync(join(root, 'docs', 'config-reference.md'), 'utf8');
    expect(doc, 'docs/config-reference.md is stale: run npm run docs:config').toBe(`# Configuration reference\n\n${body}\n`);
    const readmePath = join(root, 'README.md');
    if (existsSync(readmePath)) {
      const readme = readFileSync(readmePath, 'utf8');
      const a = readme.indexOf(REFERENCE_START);
      const b = readme.indexOf(REFERENCE_END);
      expect(a, `README.md lacks ${REFERENCE_START}: run npm run docs:config`).toBeGreaterThanOrEqual(0);
      expect(readme.slice(a + REFERENCE_START.length, b), 'README config reference block is stale: run npm run docs:config').toBe(`\n${body}\n`);
    }
  });
});
