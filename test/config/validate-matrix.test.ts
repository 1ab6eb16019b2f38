// `cdc-fanout validate` on broken configs: every case runs the real CLI (node bin/cdc-fanout.js)
// and asserts the exact one-line, located messages on stderr and the exit code.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ACCEPTED, BASE } from './accepted.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'cdc-fanout.js');
let dir: string;


interface Case {
  readonly name: string;
  /** The config text (YAML unless file ends with .json). */
  readonly text: string;
  readonly file?: string;
  readonly env?: Record<string, string>;
  /** Expected stderr lines without the trailing "N errors" line; `@L(text)` = line:column where text first occurs. */
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

/** The Redis sink's table selection in BASE (a list plus per-table key templates). */
const REDIS_TABLES = '    tables:\n      - public.users\n    table.overrides:\n      public.users: { keys: ["user:{id}"] }\n';
if (!BASE.includes(REDIS_TABLES)) throw new Error('test bug: BASE changed');

const cases: Case[] = [
  // every required field missing
  { name: 'missing name', text: edit('name: shop', ''), errors: ['F:1:1: name: missing required field (expected string)'] },
  { name: 'missing source', text: BASE.replace(/source:\n( {2}.*\n)+/, ''), errors: ['F:1:1: source: missing required field (expected object)'] },
  { name: 'missing source.topic.prefix', text: edit('topic.prefix:', ''), errors: ['F:@L(database.password): source.topic.prefix: missing required field (expected string)'] },
  { name: 'missing kafka', text: BASE.replace(/kafka:\n( {2}.*\n)+/, ''), errors: ['F:1:1: kafka: missing required field (expected object)'] },
  { name: 'missing kafka.bootstrap.servers', text: edit('bootstrap.servers:', 'client.id: x'), errors: ['F:@L(client.id): kafka.bootstrap.servers: missing required field (expected string)'] },
  { name: 'missing sink name', text: edit('- name: cache', '- type: redis', edit('type: redis', '')), errors: ['F:@L(type: redis): sinks[0].name: missing required field (expected string)'] },
  { name: 'missing sink type', text: edit('type: elasticsearch', ''), errors: ['F:@L(name: search): sinks[1].type: missing required field (expected one of elasticsearch | clickhouse | redis | webhook)'] },
  { name: 'missing elasticsearch url', text: edit('url: http://', ''), errors: ['F:@L(name: search): sinks[1].url: missing required field (expected string)'] },
  { name: 'missing redis tables', text: BASE.replace(REDIS_TABLES, ''), errors: ['F:@L(name: cache): sinks[0].tables: set "tables" (the tables to consume, e.g. tables: [public.users]; key templates per table in table.overrides) or "table.default" (templates for every table the source captures)'] },
  // Neither topics nor tables is valid (the sink follows the source's table selection); its discovery interval is checked.
  { name: 'following sink, bad discovery interval', text: edit('tables: [public.users]', 'topics.discovery.interval.ms: -5'), errors: ['F:@L(-5): sinks[1].topics.discovery.interval.ms: expected a number > 0, got -5'] },
  // wrong types
  { name: 'port is a string', text: edit('snapshot.mode:', 'database.port: fivefourthreetwo'), errors: ['F:@L(fivefourthreetwo): source.database.port: expected number, got string'] },
  { name: 'url is a number', text: edit('url: http://', 'url: 9200'), errors: ['F:@L(9200): sinks[1].url: expected string, got number'] },
  { name: 'boolean is a string', text: edit('snapshot.mode:', 'tombstones.on.delete: "yes"'), errors: ['F:@L("yes"): source.tombstones.on.delete: expected boolean, got string'] },
  { name: 'tables is a string', text: edit('tables: [public.users]', 'tables: public.orders'), errors: ['F:@L(public.orders): sinks[1].tables: expected array, got string'] },
  { name: 'sinks is a map', text: BASE.replace(/sinks:\n[\s\S]*$/, 'sinks:\n  cache: {}\n'), errors: ['F:@L(cache: {}): sinks: expected array, got object'] },
  { name: 'enum with a typo', text: edit('snapshot.mode:', 'snapshot.mode: intial'), errors: ['F:@L(intial): source.snapshot.mode: expected one of "initial" | "never" | "initial_only" | "when_needed", got "intial"; did you mean "initial"?'] },
  { name: 'number out of range', text: edit('snapshot.mode:', 'database.port: 70000'), errors: ['F:@L(70000): source.database.port: expected a number <= 65535, got 70000'] },
  // unknown keys with did-you-mean
  { name: 'unknown source key', text: edit('snapshot.mode:', 'slot.nmae: x'), errors: ['F:@L(slot.nmae): source.slot.nmae: unknown key; did you mean "slot.name"?'] },
  { name: 'unknown top-level key', text: BASE.replace('sinks:', 'sink:'), errors: ['F:@L(sink:): sink: unknown key; did you mean "sinks"?'] },
  { name: 'unknown sink key', text: edit('url: http://', 'url: http://127.0.0.1:9200\nindex.name.templat: x'), errors: ['F:@L(index.name.templat): sinks[1].index.name.templat: unknown key; did you mean "index.name.template"?'] },
  { name: 'unknown sink type', text: edit('type: elasticsearch', 'type: elastic'), errors: ['F:@L(elastic\n): sinks[1].type: unknown type "elastic"; did you mean "elasticsearch"? (expected one of elasticsearch | clickhouse | redis | webhook)'] },
  { name: 'duplicate sink name', text: edit('- name: search', '- name: cache'), errors: ['F:@L(cache\n    type: elasticsearch): sinks[1].name: duplicate sink name "cache" (also used by sinks[0])'] },
  // bad Redis key templates (validated by the redis sink's spec)
  {
    name: 'unclosed template brace',
    text: BASE.replace('"user:{id}"', '"user:{id"'),
    errors: ['F:@L({ keys): sinks[0].table.overrides.public.users: table public.users: key template "user:{id": "{" at position 5 is never closed (write {column}, or {{ for a literal brace)'],
  },
  // secrets and interpolation
  { name: 'unreadable secret file', text: edit('database.password:', 'database.password: ${file:/nonexistent/d7/pg-password}'), errors: ['F:@L(${file:/nonexistent): source.database.password: cannot read secret file /nonexistent/d7/pg-password: no such file'] },
  { name: 'unset environment variable', text: edit('database.password:', 'database.password: ${D7_TEST_UNSET_VAR}'), errors: ['F:@L(${D7_TEST_UNSET_VAR}): source.database.password: environment variable D7_TEST_UNSET_VAR is not set (set it, or write ${D7_TEST_UNSET_VAR:-default})'] },
  { name: 'env value of the wrong type', text: edit('snapshot.mode:', 'database.port: ${D7_TEST_PORT}'), env: { D7_TEST_PORT: 'not-a-port' }, errors: ['F:@L(${D7_TEST_PORT}): source.database.port: expected number, got string'] },
  { name: 'yaml syntax error', text: `${BASE}  - name: [oops\n`, errors: ['F:21:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]'] },
  { name: 'json file, wrong type', file: 'p.json', text: JSON.stringify({ name: 'j', source: { 'topic.prefix': 'j', 'heartbeat.interval.ms': '10s' }, kafka: { 'bootstrap.servers': 'k:9092' } }, null, 2), errors: ['F:@L("10s"): source.heartbeat.interval.ms: expected number, got string'] },
  // static checks of what `run` would otherwise fail on (issue 15)
  {
    name: 'include and exclude lists',
    text: edit('snapshot.mode:', 'table.include.list: public.users\ntable.exclude.list: public.x'),
    errors: ['F:@L(public.x): source.table.exclude.list: set table.include.list or table.exclude.list, not both (an include list already leaves out every other table): remove one'],
  },
  {
    name: 'invalid include regex',
    text: edit('snapshot.mode:', 'table.include.list: public.(users'),
    errors: ['F:@L(public.(users): source.table.include.list: entry "public.(users" is not a valid regular expression (Unterminated group); entries are regular expressions over "schema.table" — escape special characters, e.g. "public\\.orders", or fix the pattern'],
  },
  {
    name: 'invalid regex in an include list written as a list',
    text: edit('snapshot.mode:', 'table.include.list: [public\\.users, "public.(x"]'),
    errors: ['F:@L([public): source.table.include.list: entry "public.(x" is not a valid regular expression (Unterminated group); entries are regular expressions over "schema.table" — escape special characters, e.g. "public\\.orders", or fix the pattern'],
  },
  {
    name: 'include list entry with a comma',
    text: edit('snapshot.mode:', 'table.include.list: [public.x, "public.(a|b){1,2}"]'),
    errors: ['F:@L("public.(a): source.table.include.list[1]: a list entry cannot hold ","; write one pattern per entry, got "public.(a|b){1,2}"'],
  },
  {
    name: 'invalid message.key.columns regex',
    text: edit('snapshot.mode:', 'message.key.columns: "public.(x:id"'),
    errors: ['F:@L("public.(x:id"): source.message.key.columns: "public.(x" is not a valid regular expression (Unterminated group); entries are "<schema>.<table regex>:<column>[,<column>…]" separated by ";"'],
  },
  {
    name: 'broker without port',
    text: edit('bootstrap.servers:', 'bootstrap.servers: localhost'),
    errors: ['F:@L(localhost): kafka.bootstrap.servers: "localhost" has no port; write each broker as host:port, comma-separated, e.g. "localhost:9092"'],
  },
  {
    name: 'sink topic under another prefix',
    text: edit('tables: [public.users]', 'topics: [orders.public.users]'),
    errors: ['F:@L(orders.public.users): sinks[1].topics[0]: topic "orders.public.users" is not produced by this pipeline: its source writes "shop.<schema>.<table>" (source.topic.prefix "shop"); did you mean "shop.public.users"?'],
  },
  {
    name: 'topics and tables on one sink',
    text: edit('tables: [public.users]', 'tables: [public.users]\ntopics: [shop.public.users]'),
    errors: ['F:@L([public.users]): sinks[1].tables: set "topics" or "tables", not both (tables: ["schema.table"] already names the topics "<topic.prefix>.<schema>.<table>"): remove one'],
  },
  {
    name: 'sink table the source does not capture',
    text: edit('snapshot.mode:', 'table.include.list: public\\.orders'),
    errors: [
      'F:@L(public.users\n    table.overrides): sinks[0].tables[0]: the source does not capture public.users (not matched by source.table.include.list "public\\.orders"): add it there',
      'F:@L(public.users]): sinks[1].tables[0]: the source does not capture public.users (not matched by source.table.include.list "public\\.orders"): add it there',
    ],
  },
  {
    name: 'unknown template placeholder',
    text: edit('snapshot.mode:', 'topic.routing.template: "{prefix}.{tbl}"'),
    errors: ['F:@L("{prefix}.{tbl}"): source.topic.routing.template: unknown placeholder "{tbl}" in "{prefix}.{tbl}" (allowed: {prefix}, {schema}, {table})'],
  },
  {
    name: 'tables with a routing template that merges tables into one topic',
    text: edit('snapshot.mode:', 'topic.routing.template: "{prefix}.all"'),
    errors: [
      'F:@L(public.users\n    table.overrides): sinks[0].tables[0]: "tables" names each table\'s topic, but source.topic.routing.template "{prefix}.all" does not give one topic per table (it lacks {schema} or {table}): list the topics under "topics" instead',
      'F:@L(public.users]): sinks[1].tables[0]: "tables" names each table\'s topic, but source.topic.routing.template "{prefix}.all" does not give one topic per table (it lacks {schema} or {table}): list the topics under "topics" instead',
    ],
  },
  {
    name: 'lower-case ${name} that is no env var nor old template placeholder',
    text: edit('database.password:', 'database.password: ${tbl}'),
    errors: ['F:@L(${tbl}): source.database.password: environment variable tbl is not set (set it, or write ${tbl:-default}); if this is a template placeholder, templates write {tbl} (the known ones are {prefix} {db} {schema} {table} {topic}; write $${tbl} for a literal "${tbl}")'],
  },
  // One vocabulary (issue 15): every old shape gets a located message naming the new one.
  {
    name: 'old: redis tables as a per-table map',
    text: BASE.replace(REDIS_TABLES, '    tables:\n      public.users: { keys: ["user:{id}"] }\n'),
    errors: ['F:@L(public.users: {): sinks[0].tables: expected array, got object: "tables" is a list of table names; per-table settings moved to "table.overrides": write tables: [public.users] and table.overrides: { public.users: { … } }'],
  },
  {
    name: 'old: ${…} template placeholders',
    text: edit('url: http://', 'url: http://127.0.0.1:9200\nindex.name.template: cdc-${schema}-${table}'),
    errors: ['F:@L(cdc-${schema}): sinks[1].index.name.template: "cdc-${schema}-${table}" uses the ${…} template syntax of earlier releases; templates write {name} (${…} is only for environment variables and files): write "cdc-{schema}-{table}"'],
  },
  {
    name: 'old: redis table.default with ${schema}/${table}',
    text: BASE.replace(REDIS_TABLES, '    table.default: { keys: ["${schema}.${table}:{id}"] }\n'),
    errors: ['F:@L("${schema}): sinks[0].table.default.keys[0]: "${schema}.${table}:{id}" uses the ${…} template syntax of earlier releases; templates write {name} (${…} is only for environment variables and files): write "{schema}.{table}:{id}"'],
  },
  {
    name: 'old: elasticsearch truncate.mode delete-all',
    text: edit('url: http://', 'url: http://127.0.0.1:9200\ntruncate.mode: delete-all'),
    errors: ['F:@L(delete-all): sinks[1].truncate.mode: expected one of "delete" | "ignore", got "delete-all": "delete-all" is now called "delete" (one truncate.mode vocabulary for every sink): write truncate.mode: delete'],
  },
  {
    name: 'old: redis truncate.mode invalidate-pattern',
    text: edit('url: redis://', 'url: redis://127.0.0.1:6379/0\ntruncate.mode: invalidate-pattern'),
    errors: ['F:@L(invalidate-pattern): sinks[0].truncate.mode: expected one of "ignore" | "delete", got "invalidate-pattern": "invalidate-pattern" is now called "delete" (one truncate.mode vocabulary for every sink): write truncate.mode: delete'],
  },
  {
    name: 'truncate.mode of the vocabulary that this sink cannot do',
    text: edit('url: http://', 'url: http://127.0.0.1:9200\ntruncate.mode: mark-deleted'),
    errors: ['F:@L(mark-deleted): sinks[1].truncate.mode: expected one of "delete" | "ignore", got "mark-deleted": "mark-deleted" is not supported by this sink type (see "Shared field groups: truncate.mode" in docs/config-reference.md)'],
  },
  {
    name: 'old: elasticsearch per-table maps',
    text: edit('url: http://', 'url: http://127.0.0.1:9200\nfields.exclude: { public.users: [email] }'),
    errors: ['F:@L(fields.exclude): sinks[1].fields.exclude: unknown key; this setting moved; write table.overrides: { <schema.table>: { fields.exclude: [column, …] } }'],
  },
  {
    name: 'old: clickhouse connection.url',
    text: `${BASE}  - name: analytics\n    type: clickhouse\n    connection.url: http://127.0.0.1:8123\n`,
    errors: [
      'F:@L(name: analytics): sinks[2].url: missing required field (expected string)',
      'F:@L(connection.url): sinks[2].connection.url: unknown key; this setting moved; write url: … (every sink names its server by url; https:// for TLS)',
    ],
  },
  {
    name: 'old: redis host/port/db',
    text: edit('url: redis://', 'url: redis://127.0.0.1:6379/0\nhost: 127.0.0.1\ndb: 2'),
    errors: [
      'F:@L(host: 127): sinks[0].host: unknown key; this setting moved; write url: redis://host:6379/0 (rediss:// for TLS)',
      'F:@L(db: 2): sinks[0].db: unknown key; this setting moved; write url: redis://host:6379/<db> (the database index is the URL path)',
    ],
  },
  {
    name: 'old: webhook retry.backoff.*',
    text: `${BASE}  - name: hook\n    type: webhook\n    url: https://hooks.example.com/x\n    retry.backoff.initial.ms: 50\n`,
    errors: ['F:@L(retry.backoff.initial.ms): sinks[2].retry.backoff.initial.ms: unknown key; this setting moved; write retry.initial.backoff.ms: … (the shared retry group\'s name)'],
  },
  {
    name: 'table.overrides naming a table the sink does not consume',
    text: edit('tables: [public.users]', 'tables: [public.users]\ntable.overrides: { public.orders: { fields.include: [id] } }'),
    errors: ['F:@L({ fields.include): sinks[1].table.overrides.public.orders: table.overrides configures public.orders, which is not in this sink\'s tables: add it to tables, or remove the entry'],
  },
  {
    name: 'redis table without key templates',
    text: BASE.replace(REDIS_TABLES, '    tables: [public.users, public.orders]\n    table.overrides:\n      public.users: { keys: ["user:{id}"] }\n'),
    errors: ['F:@L(public.orders]): sinks[0].tables[1]: table public.orders has no key templates: add table.overrides: { public.orders: { keys: ["…:{id}"] } }, or set table.default'],
  },
  {
    name: 'env var in the wrong case',
    text: edit('database.password:', 'database.password: ${D7_Mixed_Case}'),
    env: { D7_MIXED_CASE: 'set-in-upper-case' },
    errors: ['F:@L(${D7_Mixed_Case}): source.database.password: environment variable D7_Mixed_Case is not set, but D7_MIXED_CASE is (names are case-sensitive): write ${D7_MIXED_CASE}'],
  },
  // YAML and JSON
  {
    name: 'duplicate key',
    text: edit('snapshot.mode:', 'snapshot.mode: initial\nsnapshot.mode: never'),
    errors: ['F:@L(snapshot.mode: never): duplicate key "snapshot.mode" (first at line 5:3): keep one of them'],
  },
  {
    name: 'alias bomb',
    text: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n',
    errors: ['F:@L(*a): YAML aliases expand to too many values (more than 100 expansions; an "alias bomb" would exhaust memory): write the repeated values out or nest fewer aliases'],
  },
  {
    name: 'several documents',
    text: `${BASE}---\nname: other\n`,
    errors: ['F:@L(---): a second YAML document starts here ("---"): a config file holds one pipeline, so put each pipeline in its own file (a directory of files is one --config)'],
  },
  {
    name: 'json syntax error',
    file: 'p.json',
    text: '{\n  "name": "j",\n  "source": { "topic.prefix": "j" }\n  "kafka": {}\n}\n',
    errors: ['F:@L("kafka"): JSON syntax error: Expected \',\' or \'}\' after property value (JSON allows no comments, trailing commas, single quotes or unquoted keys)'],
  },
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
    e.replace(/^F:/, `${file}:`).replace(/@L\(([\s\S]*?)\)(?=: )/, (_m, needle: string) => {
      const idx = c.text.indexOf(needle);
      if (idx < 0) throw new Error(`test bug: ${needle} not in ${c.name}`);
      const before = c.text.slice(0, idx);
      return `${before.split('\n').length}:${idx - before.lastIndexOf('\n')}`;
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
    // Every accepted variant (merge keys, JSON, routing templates, …), together in one directory.
    mkdirSync(join(dir, 'accepted'), { recursive: true });
    for (const a of ACCEPTED) writeFileSync(join(dir, 'accepted', a.file), a.text);
    const all = await run(['validate', '--config', 'accepted'], Object.assign({}, ...ACCEPTED.map((a) => a.env ?? {})) as Record<string, string>);
    expect(all.stderr).toBe('');
    expect(all.stdout.trimEnd().split('\n')).toHaveLength(ACCEPTED.length);
    expect(all.code).toBe(0);
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
      expect.soft(got.filter((l) => l.startsWith(`${f}:`)), (cases[i] as Case).name).toEqual(expectedLines(cases[i] as Case, f));
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

  it('says what is wrong with a file that is not UTF-8 text, and reads one with a UTF-8 byte order mark', async () => {
    const d = join(dir, 'encodings');
    mkdirSync(d, { recursive: true });
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const files: Record<string, Buffer> = {
      'utf16.yaml': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(BASE, 'utf16le')]),
      'binary.yaml': Buffer.concat([Buffer.from('name: shop\nsource:\n'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00])]),
      'latin1.yaml': Buffer.from(BASE.replace('name: shop', 'name: shop\n# caf\u00e9'), 'latin1'),
    };
    for (const [f, b] of Object.entries(files)) writeFileSync(join(d, f), b);
    const r = await run(['validate', '--config', 'encodings']);
    expect(r.stderr.split('\n').filter(Boolean).sort()).toEqual(
      [
        'encodings/binary.yaml:3:7: the file is not text (it holds a NUL byte) — is this the config file? Config files are UTF-8 YAML or JSON',
        'encodings/latin1.yaml:2:6: the file is not valid UTF-8 (first bad byte here); config files are UTF-8 — save it as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8 <file>)',
        'encodings/utf16.yaml: the file is UTF-16 text (it starts with a UTF-16 byte order mark); config files are UTF-8 — save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 <file>)',
        '3 errors',
      ].sort(),
    );
    expect(r.code).toBe(1);
    // A byte order mark before valid UTF-8 is dropped, in YAML and in JSON (JSON.parse alone refuses it).
    const ok = join(dir, 'bom');
    mkdirSync(ok, { recursive: true });
    writeFileSync(join(ok, 'a.yaml'), Buffer.concat([bom, Buffer.from(BASE)]));
    writeFileSync(join(ok, 'b.json'), Buffer.concat([bom, Buffer.from(JSON.stringify(parseYaml(BASE)))]));
    for (const f of ['a.yaml', 'b.json']) {
      const good = await run(['validate', '--config', join('bom', f)]);
      expect(good.stderr).toBe('');
      expect(good.code).toBe(0);
    }
  });

  it('validates a directory: every file, and duplicate pipeline names across files', async () => {
    const d = join(dir, 'many');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.yaml'), BASE);
    writeFileSync(join(d, 'b.yml'), BASE);
    writeFileSync(join(d, 'notes.txt'), 'ignored');
    const r = await run(['validate', '--config', 'many']);
    expect(r.stderr.trimEnd().split('\n')).toEqual(['many/b.yml:1:7: name: duplicate pipeline name "shop" (also in many/a.yaml); pipeline names must be unique', '1 error']);
    expect(r.code).toBe(1);
  });

  it('rejects two pipelines sharing a slot, publication, topic prefix, offsets topic, transactional id or consumer group (issue 13)', async () => {
    const d = join(dir, 'shared');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.yaml'), BASE);
    // Same database and Kafka, only the pipeline name differs: the slot and publication defaults and the prefix collide.
    writeFileSync(join(d, 'b.yaml'), edit('name: shop', 'name: shop2'));
    // Own slot, publication and prefix, but the transactional id (source.name), an explicit offsets
    // topic and a consumer group equal a.yaml's (a's derived ones; localhost = 127.0.0.1).
    const c = edit('snapshot.mode:', 'snapshot.mode: initial\nname: shop\nslot.name: c_slot\npublication.name: c_pub\noffsets.topic: shop.cdc-fanout.offsets', edit('topic.prefix:', 'topic.prefix: other', edit('name: shop', 'name: shop3', edit('bootstrap.servers:', 'bootstrap.servers: localhost:9092', edit('tables: [public.users]', 'topics: [other.public.users]\ngroup.id: cdc-fanout.shop.cache')))));
    writeFileSync(join(d, 'c.yaml'), c);
    const r = await run(['validate', '--config', 'shared']);
    const lines = r.stderr.trimEnd().split('\n');
    const b = edit('name: shop', 'name: shop2');
    const at = (text: string, needle: string): string => {
      const i = text.indexOf(needle);
      const before = text.slice(0, i);
      return `${before.split('\n').length}:${i - before.lastIndexOf('\n')}`;
    };
    const aSource = at(BASE, 'topic.prefix'); // a default slot/publication is located at its source block
    expect(lines).toEqual([
      `shared/b.yaml:${at(b, 'topic.prefix')}: source.slot.name: replication slot "cdc_fanout" (the default of source.slot.name) in database localhost:5432/postgres is also used by pipeline "shop" at shared/a.yaml:${aSource}: one pipeline would drop, recreate or advance the other's slot and changes would be lost; give each pipeline its own source.slot.name`,
      `shared/b.yaml:${at(b, 'topic.prefix')}: source.publication.name: publication "cdc_fanout_publication" (the default of source.publication.name) in database localhost:5432/postgres is also used by pipeline "shop" at shared/a.yaml:${aSource}: each pipeline manages its publication's table list, so one would change what the other captures; give each pipeline its own source.publication.name`,
      `shared/b.yaml:${at(b, 'shop\n  database')}: source.topic.prefix: topic prefix "shop" in Kafka cluster localhost:9092 is also used by pipeline "shop" at shared/a.yaml:${at(BASE, 'shop\n  database')}: both would write the same topics and their sinks could not tell the events apart; give each pipeline its own source.topic.prefix`,
      `shared/c.yaml:${at(c, 'shop.cdc-fanout.offsets')}: source.offsets.topic: offsets topic "shop.cdc-fanout.offsets" in Kafka cluster localhost:9092 is also used by pipeline "shop" at shared/a.yaml:${at(BASE, 'shop\n  database')}: each would resume from the other's position; set a distinct source.offsets.topic (its default derives from topic.prefix)`,
      `shared/c.yaml:${at(c, 'shop\n  slot')}: source.name: Kafka transactional id "cdc-fanout-shop" in Kafka cluster localhost:9092 is also used by pipeline "shop" at shared/a.yaml:1:7: their producers would fence each other and both would restart forever; give each pipeline its own source.name (the transactional id is "cdc-fanout-<source.name>")`,
      `shared/c.yaml:${at(c, 'cdc-fanout.shop.cache')}: sinks[1].group.id: sink consumer group "cdc-fanout.shop.cache" in Kafka cluster localhost:9092 is also used by pipeline "shop" at shared/a.yaml:${at(BASE, 'cache')}: the sinks would split the partitions between them and each would miss the other's share; give each sink its own group.id (default "cdc-fanout.<pipeline>.<sink name>")`,
      '6 errors',
    ]);
    expect(r.code).toBe(1);
  });
});
