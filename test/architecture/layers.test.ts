/**
 * The layer map of docs/architecture.md holds for src/: every import points down the layers, none
 * leaves src/, and there is no import cycle. The same check runs in eslint (rule layers/one-way);
 * this test also proves, on small fixture trees, that it catches each kind of breach.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLayers } from '../../scripts/lint/layers.mjs';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A tree of files under a fresh temp dir; returns its src/ path. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return join(dir, 'src');
}

describe('src/ layers', () => {
  it('every import points down the layers and none closes a cycle', () => {
    const { violations, cycles } = checkLayers('src');
    expect(violations.map((v) => `${v.file}:${v.line} imports ${v.spec}: ${v.problem}`)).toEqual([]);
    expect(cycles).toEqual([]);
  });
});

describe('the layer check', () => {
  it('accepts imports that point down, within a folder, and to packages', () => {
    const root = fixture({
      'src/cli/main.ts': "import { run } from '../daemon/run.js';\nimport { Command } from 'commander';\nimport { x } from './x.js';\n",
      'src/cli/x.ts': 'export const x = 1;\n',
      'src/daemon/run.ts': "import type { E } from '../events/e.js';\nexport const run = (): E | undefined => undefined;\n",
      'src/events/e.ts': 'export type E = 1;\n',
    });
    expect(checkLayers(root)).toEqual({ violations: [], cycles: [] });
  });

  it('reports an upward import with file, line and the layer order', () => {
    const root = fixture({
      'src/kafka/dlq.ts': "// header\nimport type { Rejected } from '../sinks/sink.js';\nexport type R = Rejected;\n",
      'src/sinks/sink.ts': 'export type Rejected = 1;\n',
    });
    const { violations } = checkLayers(root);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ file: join(root, 'kafka/dlq.ts'), line: 2, spec: '../sinks/sink.js' });
    expect(violations[0]!.problem).toMatch(/kafka\/ sits below sinks\//);
  });

  it('reports imports between the folders of one layer, dynamic ones included', () => {
    const root = fixture({
      'src/source/a.ts': "export const a = async (): Promise<unknown> => import('../sinks/b.js');\n",
      'src/sinks/b.ts': 'export const b = 1;\n',
    });
    expect(checkLayers(root).violations.map((v) => v.problem)).toEqual([expect.stringMatching(/source\/ and sinks\/ are one layer/)]);
  });

  it('reports src/ importing dev/test code and folders missing from the map', () => {
    const root = fixture({
      'src/sinks/c.ts': "import { endpoints } from '../../scripts/stack/endpoints.js';\nexport const c = endpoints;\n",
      'scripts/stack/endpoints.ts': 'export const endpoints = 1;\n',
      'src/util/u.ts': "import { e } from '../events/e.js';\nexport const u = e;\n",
      'src/events/e.ts': 'export const e = 1;\n',
    });
    const problems = checkLayers(root).violations.map((v) => v.problem);
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/must not import .*scripts\/stack\/endpoints\.ts: dev and test helpers/), expect.stringMatching(/src\/util\/ is not in the layer map/)]),
    );
    expect(problems).toHaveLength(2);
  });

  it('reports an import cycle, also when one side is a type-only or dynamic import', () => {
    const root = fixture({
      'src/cli/program.ts': "export const load = async (): Promise<unknown> => import('./run.js');\nexport interface Flags { readonly config: string }\n",
      'src/cli/run.ts': "import type { Flags } from './program.js';\nexport const run = (f: Flags): string => f.config;\n",
      'src/cli/main.ts': "import { load } from './program.js';\nawait load();\n",
    });
    const { violations, cycles } = checkLayers(root);
    expect(violations).toEqual([]);
    expect(cycles).toEqual([[join(root, 'cli/program.ts'), join(root, 'cli/run.ts')]]);
  });
});
