/**
 * The layer map of src/ and its check: imports point one way, down this list, and no module
 * imports itself back through a cycle. eslint.config.js runs it on every file (rule
 * `layers/one-way`); test/architecture/layers.test.ts runs it on the whole tree and on fixtures.
 * docs/architecture.md explains the layers.
 *
 * Plain JavaScript (typed by layers.d.mts) so eslint.config.js can load it without a TS loader.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/**
 * Top to bottom. A folder may import folders of lower layers only; folders of one layer do not
 * import each other (source/ and sinks/ are independent). Folders not listed are an error, so a new
 * folder has to be placed here.
 * @type {readonly { readonly folders: readonly string[]; readonly role: string }[]}
 */
export const LAYERS = [
  { folders: ['cli'], role: 'command line: parses flags, prints, exits' },
  { folders: ['daemon'], role: 'runs pipelines: supervisor, admin API, status' },
  { folders: ['config'], role: 'loads and validates the pipeline config from the component specs; runs the online checks' },
  { folders: ['source', 'sinks'], role: 'the components: Postgres source; sink runtime and sinks' },
  { folders: ['kafka'], role: 'Kafka clients: producer, consumer, admin, DLQ producer' },
  { folders: ['events'], role: 'the Debezium event model: records, schemas, value conversion' },
  { folders: ['spec', 'check', 'observability'], role: 'vocabulary used by all: spec field groups/TLS/secrets, online-check findings, logs and metrics' },
];

/** Layer index of a folder directly under src/ (0 = top), or undefined when it is not in the map. */
export function layerOf(folder) {
  const i = LAYERS.findIndex((l) => l.folders.includes(folder));
  return i < 0 ? undefined : i;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(=])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Relative module specifiers of a source text with their 1-based lines (static, side-effect and dynamic imports, re-exports). */
export function importsOf(text) {
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined || !spec.startsWith('.')) continue;
    const at = m.index + m[0].search(/import|export/);
    out.push({ spec, line: text.slice(0, at).split('\n').length });
  }
  return out;
}

/** The .ts file a relative specifier of `file` names (`./x.js` is `./x.ts` under NodeNext). */
export function resolveImport(file, spec) {
  return normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
}

/**
 * Why `from` (a file under `root`) may not import `to`, or undefined when it may. Both are paths
 * relative to the project; `root` is the source folder ("src").
 */
export function edgeProblem(root, from, to) {
  const inRoot = (p) => !relative(root, p).startsWith('..');
  if (!inRoot(from)) return undefined;
  if (!inRoot(to)) return `src/ must not import ${to}: dev and test helpers live outside src/ and do not ship`;
  const folderOf = (p) => relative(root, p).split(sep)[0];
  const a = folderOf(from);
  const b = folderOf(to);
  if (a === b) return undefined;
  const la = layerOf(a);
  const lb = layerOf(b);
  if (la === undefined) return `src/${a}/ is not in the layer map (scripts/lint/layers.mjs): place it there`;
  if (lb === undefined) return `src/${b}/ is not in the layer map (scripts/lint/layers.mjs): place it there`;
  if (la === lb) return `${a}/ and ${b}/ are one layer and stay independent: move what both need down a layer`;
  if (la > lb) return `${a}/ sits below ${b}/ (cli → daemon → config → {source, sinks} → kafka → events → {spec, check, observability}): an import may only point down — move the shared part down`;
  return undefined;
}

function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Import graph of the .ts files under `root` (relative paths as given), edges to files that exist. */
export function importGraph(root) {
  const graph = new Map();
  for (const file of tsFiles(root)) {
    const edges = importsOf(readFileSync(file, 'utf8')).map((i) => ({ ...i, to: resolveImport(file, i.spec) }));
    graph.set(file, edges);
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself): the import cycles. */
export function cyclesOf(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v), low.get(to)));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v), index.get(to)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v);
      if (scc.length > 1 || selfLoop) cycles.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Every layer violation and import cycle under `root` (e.g. "src"), paths relative to the cwd. */
export function checkLayers(root) {
  const graph = importGraph(root);
  const violations = [];
  for (const [file, edges] of graph) {
    for (const e of edges) {
      const problem = edgeProblem(root, file, e.to);
      if (problem) violations.push({ file, line: e.line, spec: e.spec, problem });
    }
  }
  return { violations, cycles: cyclesOf(graph) };
}

let cycleCache;
/** The files of each cycle under `root` as found when first asked (one eslint run reads the tree once). */
function cycleMembers(root) {
  if (cycleCache?.root !== root) {
    const graph = importGraph(root);
    const member = new Map();
    for (const c of cyclesOf(graph)) for (const f of c) member.set(f, c);
    cycleCache = { root, member };
  }
  return cycleCache.member;
}

/** ESLint plugin: `layers/one-way` reports imports that point up or sideways, leave src/, or close a cycle. */
export const layersPlugin = {
  meta: { name: 'cdc-fanout-layers' },
  rules: {
    'one-way': {
      meta: {
        type: 'problem',
        docs: { description: 'imports point down the layers of scripts/lint/layers.mjs; no import cycles' },
        schema: [{ type: 'object', properties: { root: { type: 'string' } }, additionalProperties: false }],
      },
      create(context) {
        const root = join(context.cwd, context.options[0]?.root ?? 'src');
        const file = context.filename;
        const cycles = cycleMembers(root);
        const check = (node, source) => {
          if (typeof source?.value !== 'string' || !source.value.startsWith('.')) return;
          const to = resolveImport(file, source.value);
          const problem = edgeProblem(root, file, to);
          if (problem) context.report({ node: source, message: `${source.value}: ${problem}` });
          const cycle = cycles.get(file);
          if (cycle?.includes(to)) {
            const names = cycle.map((f) => relative(context.cwd, f)).join(', ');
            context.report({ node: source, message: `${source.value}: import cycle among ${names}; break it (move the shared part into a module both import)` });
          }
        };
        return {
          ImportDeclaration: (n) => check(n, n.source),
          ExportNamedDeclaration: (n) => check(n, n.source),
          ExportAllDeclaration: (n) => check(n, n.source),
          ImportExpression: (n) => check(n, n.source),
        };
      },
    },
  },
};
