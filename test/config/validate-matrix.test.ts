// `cdc-fanout validate` on broken configs: every case runs the real CLI (node bin/cdc-fanout.js)
// and asserts the exact one-line, located messages on stderr and the exit code.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'cdc-fanout.js');
let dir: string;

const BASE = `name: shop
source:
  topic.prefix: shop
  database.password: \${D7_TEST_PG_PASSWORD:-pw-from-default}
  snapshot.mode: initial
kafka:
  bootstrap.servers: 127.0.0.1:9092
sinks:
  - name: cache
    type: redis
    url: redis://127.0.0.1:6379/0
    tables:
      public.users: { keys: ["user:{id}"] }
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:9200
    tables: [public.users]
`;

interface Case {
  readonly name: string;
  /** The config text (YAML unless file ends with .json). */
  readonly text: string;
  readonly file?: string;
  readonly env?: Record<string, string>;
  /** Expected stderr lines without the trailing "N errors" line; `@L(text)` = line number of the first line containing text. */
  readonly errors: readonly string[];
}

/** Replaces a line of BASE (matched by its start, after indentation) with `to` (may be several lines or empty). */
function edit(from: string, to: string, text = BASE): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith(from));
  if (i < 0) throw new Error(`test bug: no line starts with ${from}`);
  const indent = /^\s*/.exec(lines[i] as string)?.[0] ?? '';
  lines.splice(i, 1, ...(to === '' ? [] : to.split('\n').map((l) => indent + l)));
  return lines.join('\n');
}

const cases: Case[] = [
  // every required field missing
  { name: 'missing name', text: edit('name: shop', ''), errors: ['F: name: missing required field (expected string) (line 1)'] },
  { name: 'missing source', text: BASE.replace(/source:\n( {2}.*\n)+/, ''), errors: ['F: source: missing required field (expected object) (line 1)'] },
  { name: 'missing source.topic.prefix', text: edit('topic.prefix:', ''), errors: ['F: source.topic.prefix: missing required field (expected string) (line @L(database.password))'] },
  { name: 'missing kafka', text: BASE.replace(/kafka:\n( {2}.*\n)+/, ''), errors: ['F: kafka: missing required field (expected object) (line 1)'] },
  { name: 'missing kafka.bootstrap.servers', text: edit('bootstrap.servers:', 'client.id: x'), errors: ['F: kafka.bootstrap.servers: missing required field (expected string) (line @L(client.id))'] },
  { name: 'missing sink name', text: edit('- name: cache', '- type: redis', edit('type: redis', '')), errors: ['F: sinks[0].name: missing required field (expected string) (line @L(- type: redis))'] },
  { name: 'missing sink type', text: edit('type: elasticsearch', ''), errors: ['F: sinks[1].type: missing required field (expected one of elasticsearch | clickhouse | redis) (line @L(- name: search))'] },
  { name: 'missing elasticsearch url', text: edit('url: http://', ''), errors: ['F: sinks[1].url: missing required field (expected string) (line @L(- name: search))'] },
  { name: 'missing redis tables', text: edit('tables:', '', edit('public.users: {', '')), errors: ['F: sinks[0].tables: missing required field (expected record) (line @L(- name: cache))'] },
  { name: 'missing topics/tables', text: edit('tables: [public.users]', ''), errors: ['F: sinks[1]: set "topics" (Kafka topic names) or "tables" (["schema.table", ...]) so the sink knows what to consume (line @L(- name: search))'] },
  // wrong types
  { name: 'port is a string', text: edit('snapshot.mode:', 'database.port: fivefourthreetwo'), errors: ['F: source.database.port: expected number, got string (line @L(database.port))'] },
  { name: 'url is a number', text: edit('url: http://', 'url: 9200'), errors: ['F: sinks[1].url: expected string, got number (line @L(url: 9200))'] },
  { name: 'boolean is a string', text: edit('snapshot.mode:', 'tombstones.on.delete: "yes"'), errors: ['F: source.tombstones.on.delete: expected boolean, got string (line @L(tombstones.on.delete))'] },
  { name: 'tables is a string', text: edit('tables: [public.users]', 'tables: public.users'), errors: ['F: sinks[1].tables: expected array, got string (line @L(tables: public.users))'] },
  { name: 'sinks is a map', text: BASE.replace(/sinks:\n[\s\S]*$/, 'sinks:\n  cache: {}\n'), errors: ['F: sinks: expected array, got object (line @L(cache: {}))'] },
  { name: 'enum with a typo', text: edit('snapshot.mode:', 'snapshot.mode: intial'), errors: ['F: source.snapshot.mode: expected one of "initial" | "never" | "initial_only" | "when_needed", got "intial"; did you mean "initial"? (line @L(snapshot.mode))'] },
  { name: 'number out of range', text: edit('snapshot.mode:', 'database.port: 70000'), errors: ['F: source.database.port: expected a number <= 65535, got 70000 (line @L(database.port))'] },
  // unknown keys with did-you-mean
  { name: 'unknown source key', text: edit('snapshot.mode:', 'slot.nmae: x'), errors: ['F: source.slot.nmae: unknown key; did you mean "slot.name"? (line @L(slot.nmae))'] },
  { name: 'unknown top-level key', text: BASE.replace('sinks:', 'sink:'), errors: ['F: sink: unknown key; did you mean "sinks"? (line @L(sink:))'] },
  { name: 'unknown sink key', text: edit('url: http://', 'url: http://127.0.0.1:9200\nindex.name.templat: x'), errors: ['F: sinks[1].index.name.templat: unknown key; did you mean "index.name.template"? (line @L(index.name.templat))'] },
  { name: 'unknown sink type', text: edit('type: elasticsearch', 'type: elastic'), errors: ['F: sinks[1].type: unknown type "elastic"; did you mean "elasticsearch"? (expected one of elasticsearch | clickhouse | redis) (line @L(type: elastic))'] },
  { name: 'duplicate sink name', text: edit('- name: search', '- name: cache'), errors: ['F: sinks[1].name: duplicate sink name "cache" (also used by sinks[0]) (line @L(- name: cache\n    type: elasticsearch))'] },
  // bad Redis key templates (validated by the redis sink's spec)
  {
    name: 'unclosed template brace',
    text: BASE.replace('"user:{id}"', '"user:{id"'),
    errors: ['F: sinks[0].tables.public.users: table public.users: key template "user:{id": "{" at position 5 is never closed (write {column}, or {{ for a literal brace) (line @L(public.users: {))'],
  },
  // secrets and interpolation
  { name: 'unreadable secret file', text: edit('database.password:', 'database.password: ${file:/nonexistent/d7/pg-password}'), errors: ['F: source.database.password: cannot read secret file /nonexistent/d7/pg-password: no such file (line @L(database.password))'] },
  { name: 'unset environment variable', text: edit('database.password:', 'database.password: ${D7_TEST_UNSET_VAR}'), errors: ['F: source.database.password: environment variable D7_TEST_UNSET_VAR is not set (set it, or write ${D7_TEST_UNSET_VAR:-default}) (line @L(database.password))'] },
  { name: 'env value of the wrong type', text: edit('snapshot.mode:', 'database.port: ${D7_TEST_PORT}'), env: { D7_TEST_PORT: 'not-a-port' }, errors: ['F: source.database.port: expected number, got string (line @L(database.port))'] },
  { name: 'yaml syntax error', text: `${BASE}  - name: [oops\n`, errors: ['F: syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (line 19)'] },
  { name: 'json file, wrong type', file: 'p.json', text: JSON.stringify({ name: 'j', source: { 'topic.prefix': 'j', 'heartbeat.interval.ms': '10s' }, kafka: { 'bootstrap.servers': 'k:9092' } }, null, 2), errors: ['F: source.heartbeat.interval.ms: expected number, got string (line @L("heartbeat.interval.ms"))'] },
];

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function expectedLines(c: Case, file: string): string[] {
  return c.errors.map((e) =>
    e.replace(/^F:/, `${file}:`).replace(/@L\(([\s\S]*?)\)\)$/, (_m, needle: string) => {
      const idx = c.text.indexOf(needle);
      if (idx < 0) throw new Error(`test bug: ${needle} not in ${c.name}`);
      return `${c.text.slice(0, idx).split('\n').length})`;
    }),
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-validate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cdc-fanout validate (real CLI)', () => {
  it('accepts the base config and the shipped connectors', async () => {
    writeFileSync(join(dir, 'base.yaml'), BASE);
    const r = await run(['validate', '--config', 'base.yaml']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('base.yaml: pipeline "shop" ok (2 sinks)\n');
    expect(r.code).toBe(0);
    const shipped = await run(['validate', '--config', join(root, 'connectors')]);
    expect(shipped.stderr).toBe('');
    expect(shipped.code).toBe(0);
  });

  it('interpolates ${ENV}, ${ENV:-default} and ${file:} (typed when the whole value is a placeholder)', async () => {
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'pg'), 'file-secret-123\n');
    writeFileSync(join(dir, 'env.yaml'), edit('database.password:', 'database.password: ${file:secrets/pg}\ndatabase.port: ${D7_TEST_PORT}\ndatabase.user: ${D7_TEST_USER:-fallback}'));
    const ok = await run(['validate', '--config', 'env.yaml'], { D7_TEST_PORT: '5433' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('prints one located line per error for every broken config (exit 1)', { timeout: 120_000 }, async () => {
    // One CLI run over a directory holding every case (CLI start-up is seconds on a busy machine);
    // each line names its file, so every case is still asserted exactly. A few cases also run alone.
    const d = join(dir, 'matrix');
    mkdirSync(d, { recursive: true });
    const files = cases.map((c, i) => {
      const file = `${String(i).padStart(2, '0')}-${c.file ?? 'case.yaml'}`;
      writeFileSync(join(d, file), c.text);
      return `matrix/${file}`;
    });
    const env = Object.assign({}, ...cases.map((c) => c.env ?? {})) as Record<string, string>;
    const r = await run(['validate', '--config', 'matrix'], env);
    const got = r.stderr.trimEnd().split('\n');
    const want = cases.flatMap((c, i) => expectedLines(c, files[i] as string));
    for (let i = 0; i < cases.length; i++) {
      const f = files[i] as string;
      expect.soft(got.filter((l) => l.startsWith(`${f}: `)), (cases[i] as Case).name).toEqual(expectedLines(cases[i] as Case, f));
    }
    expect(got).toEqual([...want, `${want.length} errors`]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('pw-from-default');
  });

  it('exits 1 with the located line for a single broken file', async () => {
    const c = cases.find((x) => x.name === 'unknown source key') as Case;
    writeFileSync(join(dir, 'single.yaml'), c.text);
    const r = await run(['validate', '--config', 'single.yaml']);
    expect(r.stderr).toBe(`${expectedLines(c, 'single.yaml').join('\n')}\n1 error\n`);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
  });

  it('validates a directory: every file, and duplicate pipeline names across files', async () => {
    const d = join(dir, 'many');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.yaml'), BASE);
    writeFileSync(join(d, 'b.yml'), BASE);
    writeFileSync(join(d, 'notes.txt'), 'ignored');
    const r = await run(['validate', '--config', 'many']);
    expect(r.stderr.trimEnd().split('\n')).toEqual(['many/b.yml: name: duplicate pipeline name "shop" (also in many/a.yaml)', '1 error']);
    expect(r.code).toBe(1);
  });
});
