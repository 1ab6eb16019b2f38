// The config reference is generated from the schema: every field must be described, and the
// committed docs/config-reference.md (linked from the README) must match what the schema renders now.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { loadComponents } from '../../src/config/components.js';
import { referenceSections, renderReference } from '../../src/config/reference.js';

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

  it('docs/config-reference.md is up to date (npm run docs:config) and the README links to it', async () => {
    const body = renderReference(await loadComponents(), buildProgram({}));
    const doc = readFileSync(join(root, 'docs', 'config-reference.md'), 'utf8');
    expect(doc, 'docs/config-reference.md is stale: run npm run docs:config').toBe(`# Configuration reference\n\n${body}\n`);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('(docs/config-reference.md)');
  });
});
