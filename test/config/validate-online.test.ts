// `cdc-fanout validate --online` / `check` against the real stack (Postgres, Kafka, Elasticsearch,
// ClickHouse, Redis): a config that is fine exits 0; configs with many problems at once report every
// one of them (each message asserted, located in the file) and exit 1. Each run gets its own
// database, role, slot, topics and ClickHouse database, dropped afterwards.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { freePort } from '../support/ports.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'cdc-fanout.js');
const ep = endpoints();
const id = `vo_${randomUUID().slice(0, 8)}`;
const prefix = id.replace(/_/g, '-');
const db = id;
const user = `${id}_user`;
const pgUrl = new URL(ep.postgresUrl);
// Our client (kafkajs with the idle-timer patch: no negative-timer warning on Node 24).
const kafka = kafkaClient(kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(','), 'client.id': 'validate-online-test' }));
const topics = [`${prefix}-b.public.users`, `${prefix}-b.cdc-fanout.offsets`];
let dir: string;
let closedPort: number;
let silent: Server;
let silentPort: number;
const silentSockets = new Set<Socket>();

/** libpq URL of the test database (for pg_recvlogical). */
function pgDbUrl(): string {
  const u = new URL(ep.postgresUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

function admin(database = pgUrl.pathname.slice(1) || 'postgres'): pg.Client {
  const u = new URL(ep.postgresUrl);
  u.pathname = `/${database}`;
  return new pg.Client({ connectionString: u.toString() });
}

async function sql(database: string | undefined, ...statements: string[]): Promise<void> {
  const c = admin(database);
  await c.connect();
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

const source = (name: string, extra: string): string => `name: ${name}
source:
  topic.prefix: ${name}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.dbname: ${db}
${extra}
kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cdc-validate-online-'));
  closedPort = await freePort();
  // Accepts connections and never answers: the time bound must end the wait.
  silent = createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;

  await sql(undefined, `CREATE DATABASE ${db}`, `CREATE ROLE ${user} LOGIN`);
  await sql(
    db,
    'CREATE TABLE users (id int PRIMARY KEY, name text, email text)',
    'CREATE TABLE orders (id int PRIMARY KEY, user_id int, total numeric)',
    'CREATE VIEW users_view AS SELECT * FROM users',
    'CREATE TABLE nokey (a int, b text)',
    'CREATE TABLE fullnokey (a int)',
    'ALTER TABLE fullnokey REPLICA IDENTITY FULL',
    `GRANT SELECT ON users TO ${user}`,
    // a slot of another plugin under the name the first broken config uses
    `SELECT pg_create_logical_replication_slot('${id}_td', 'test_decoding')`,
    // a pgoutput slot this pipeline never created, and a publication missing a captured table
    `SELECT pg_create_logical_replication_slot('${id}_other', 'pgoutput')`,
    `CREATE PUBLICATION ${id}_pub FOR TABLE users`,
  );
  const a = kafka.admin();
  await a.connect();
  try {
    await a.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics[0] as string, numPartitions: 1, replicationFactor: 1 },
        { topic: topics[1] as string, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
      ],
    });
  } finally {
    await a.disconnect();
  }
}, 120_000);

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  // A killed pg_recvlogical releases its slot a moment later: retry until both slots are gone.
  for (let i = 0; i < 50; i++) {
    const c = admin(db);
    const left = await c
      .connect()
      .then(() => c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('${id}_td', '${id}_other') AND active_pid IS NULL`))
      .then(() => c.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name IN ('${id}_td', '${id}_other')`))
      .then((res) => (res.rows[0] as { n: number }).n)
      .catch(() => 0)
      .finally(() => c.end().catch(() => undefined));
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await sql(undefined, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, `DROP ROLE IF EXISTS ${user}`).catch(() => undefined);
  const a = kafka.admin();
  await a.connect();
  await a.deleteTopics({ topics }).catch(() => undefined);
  await a.disconnect();
  await fetch(`${ep.clickhouseUrl}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${id}` }).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

/** "line:col" of the first occurrence of `needle` in `text` (1-based), as the CLI locates a value. */
function at(text: string, needle: string): string {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`test bug: "${needle}" not in the config`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${(before.at(-1) as string).length + 1}`;
}
/** "line:col" of the value of the first `key: value` line. */
const value = (text: string, key: string): string => {
  const [line, col] = at(text, `${key}: `).split(':').map(Number) as [number, number];
  return `${line}:${col + key.length + 2}`;
};

/** "file:line:col: …" lines of stderr, without the summary line. */
const problems = (r: Run): string[] => r.stderr.split('\n').filter((l) => /^\S+\.yaml(:\d+:\d+)?: (error|warning): /.test(l));

describe('validate --online', () => {
  it('a config that is fine: every service answers with its version, exit 0', async () => {
    writeFileSync(
      join(dir, 'good.yaml'),
      `${source(`${prefix}-g`, `  slot.name: ${id}_good
  publication.name: ${id}_good_pub
  publication.autocreate.mode: filtered
  table.include.list: public.users,public.orders`)}sinks:
  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.users]
    table.overrides: { public.users: { fields.exclude: [email] } }
  - name: cache
    type: redis
    url: ${ep.redisUrl}
    tables: [public.users]
    table.overrides:
      public.users: { keys: ["user:{id}"] }
  - name: analytics
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${id}
    tables: [public.orders]
`,
    );
    const r = await run(['validate', '-c', 'good.yaml', '--online']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`good.yaml: pipeline "${prefix}-g" checked online (3 sinks)`);
    expect(lines[1]).toMatch(new RegExp(`^  postgres: ok — PostgreSQL \\d+\\.\\d+ at ${pgUrl.hostname}:\\d+/${db}; wal_level=logical; 2 tables captured; slot ${id}_good will be created$`));
    expect(lines[2]).toMatch(/^ {2}kafka: ok — Kafka cluster \S+ \(\d+ brokers?\) at /);
    expect(lines[2]).toContain(`transaction coordinator found for cdc-fanout-${prefix}-g`);
    expect(lines[3]).toMatch(/^ {2}sink search \(elasticsearch\): ok — Elasticsearch \d+\.\d+\.\d+ at http:\/\/\S+; 1 table$/);
    expect(lines[4]).toMatch(/^ {2}sink cache \(redis\): ok — Redis \d+\.\d+\.\d+ at \S+; 1 table$/);
    expect(lines[5]).toMatch(new RegExp(`^  sink analytics \\(clickhouse\\): ok — ClickHouse \\d+\\.\\d+\\.\\d+ at http://\\S+; database ${id} will be created; 1 table$`));
    // `check` is the same command
    const c = await run(['check', '-c', 'good.yaml']);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(r.stdout);
    // usage errors exit 2, as for validate
    const usage = await run(['check', '-c', 'good.yaml', '--timeout', 'soon']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain(`option '--timeout <ms>' argument 'soon' is invalid. expected a positive whole number, e.g. 30000, got "soon"`);
  }, 120_000);

  it('database.hosts with an unreachable server first: the check finds the primary among them, as `run` does, exit 0', async () => {
    const live = `${pgUrl.hostname}:${pgUrl.port || 5432}`;
    writeFileSync(
      join(dir, 'hosts.yaml'),
      `${source(`${prefix}-h`, `  database.hosts: 127.0.0.1:${closedPort},${live}
  slot.name: ${id}_hosts
  publication.name: ${id}_hosts_pub
  publication.autocreate.mode: filtered
  table.include.list: public.users,public.orders`)}sinks:
  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.users]
  - name: analytics
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${id}
    tables: [public.orders]
`,
    );
    const r = await run(['validate', '-c', 'hosts.yaml', '--online', '--timeout', '4000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`hosts.yaml: pipeline "${prefix}-h" checked online (2 sinks)`);
    // The dead first server is skipped; the report names the primary it found and checked.
    expect(lines[1]).toMatch(new RegExp(`^  postgres: ok — PostgreSQL \\d+\\.\\d+ at ${live.replace(/\./g, '\\.')}/${db}; wal_level=logical; 2 tables captured; primary ${live.replace(/\./g, '\\.')}; slot ${id}_hosts will be created$`));
    expect(lines[3]).toMatch(/^ {2}sink search \(elasticsearch\): ok — /);
    expect(lines[4]).toMatch(new RegExp(`^  sink analytics \\(clickhouse\\): ok — ClickHouse \\d+\\.\\d+\\.\\d+ at http://\\S+; database ${id} will be created; 1 table$`));
  }, 120_000);

  it('a config with many problems: every one reported at once, located, with its fix; exit 1', async () => {
    const text = `${source(`${prefix}-a`, `  database.user: ${user}
  slot.name: ${id}_td
  publication.name: ${id}_bad_pub
  publication.autocreate.mode: filtered
  table.include.list: public.users,public.orders,public.missing_tbl,public.users_view,public.nokey,public.fullnokey
  message.key.columns: public.orders:nope`)}sinks:
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:${closedPort}
    tables: [public.users, public.missing_tbl]
    table.overrides:
      public.users: { fields.include: [id, nmae] }
  - name: cache
    type: redis
    url: ${ep.redisUrl}
    tables: [public.users]
    table.overrides:
      public.users: { keys: ["user:{id}", "user:{nme}", "user:email:{email}"] }
  - name: analytics
    type: clickhouse
    url: http://127.0.0.1:${closedPort}
    database: ${id}
    tables: [public.orders]
`;
    writeFileSync(join(dir, 'bad.yaml'), text);
    const L = (key: string): string => value(text, key);
    const r = await run(['validate', '-c', 'bad.yaml', '--online', '--timeout', '4000']);
    expect(r.code).toBe(1);
    const F = 'bad.yaml';
    expect(problems(r)).toEqual([
      `${F}:${L('database.user')}: error: [postgres] source.database.user: Postgres user "${user}" lacks the REPLICATION privilege. Fix: ALTER ROLE "${user}" WITH REPLICATION; (as a superuser)`,
      `${F}:${L('table.include.list')}: error: [postgres] source.table.include.list: table.include.list entry "public.missing_tbl" matches no table in database "${db}" Fix: create the table, or correct the entry (entries are regular expressions over "schema.table", e.g. "public\\.orders")`,
      `${F}:${L('table.include.list')}: error: [postgres] source.table.include.list: public.users_view (table.include.list entry "public.users_view") is a view, not a table: logical replication captures tables only, so it would never produce events Fix: capture the table(s) it reads from instead, or remove the entry`,
      `${F}:${L('table.include.list')}: warning: [postgres] source.table.include.list: table public.fullnokey has no primary key (REPLICA IDENTITY FULL): updates and deletes carry the whole old row, and the event key is every column, so an update changes the key (sinks see the old row deleted and a new one written; Kafka partitions by the whole row). Fix: add a primary key, or name the key columns in source.message.key.columns ("public.fullnokey:<column>[,<column>…]")`,
      `${F}:${L('table.include.list')}: error: [postgres] source.table.include.list: table public.nokey has no primary key and REPLICA IDENTITY DEFAULT: once it is in the publication, Postgres REJECTS its UPDATEs and DELETEs ("cannot update table ... because it does not have a replica identity and publishes updates"), so the application writing it breaks; inserts are captured with a null key. Fix: add a primary key (ALTER TABLE "public"."nokey" ADD PRIMARY KEY (...)), or ALTER TABLE "public"."nokey" REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>, or ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL`,
      `${F}:${L('database.user')}: error: [postgres] source.database.user: user "${user}" may not SELECT from public.fullnokey, public.nokey, public.orders: the snapshot cannot read them Fix: GRANT SELECT ON "public"."fullnokey", "public"."nokey", "public"."orders" TO "${user}";`,
      `${F}:${L('message.key.columns')}: error: [postgres] source.message.key.columns: message.key.columns: table public.orders has no column "nope" (columns: id, user_id, total); the source would fail on its first change Fix: name existing columns in the entry for this table`,
      `${F}:${L('database.user')}: error: [postgres] source.database.user: publication "${id}_bad_pub" does not exist and user "${user}" lacks CREATE on database "${db}" to create it Fix: GRANT CREATE ON DATABASE "${db}" TO "${user}"; or create the publication yourself and set publication.autocreate.mode: disabled`,
      `${F}:${L('database.user')}: error: [postgres] source.database.user: user "${user}" does not own public.fullnokey, public.nokey, public.orders, public.users, so it cannot add them to publication "${id}_bad_pub" Fix: create the publication as their owner (and set publication.autocreate.mode: disabled), or run the source as the tables' owner`,
      `${F}:${L('slot.name')}: error: [postgres] source.slot.name: replication slot "${id}_td" uses plugin "test_decoding", not pgoutput; drop it or choose another slot.name`,
      `${F}:${at(text, 'public.missing_tbl]')}: error: [sink search (elasticsearch)] sinks[0].tables[1]: table public.missing_tbl does not exist in database "${db}": the sink would never receive an event for it Fix: create the table, or correct the name`,
      `${F}:${L('url')}: error: [sink search (elasticsearch)] sinks[0].url: Elasticsearch at http://127.0.0.1:${closedPort} unreachable within 4 s (connection refused: nothing listens on that port) Fix: check the sink's url, and that Elasticsearch runs and is reachable from here`,
      `${F}:${at(text, '[id, nmae]')}: error: [sink search (elasticsearch)] sinks[0].table.overrides.public.users.fields.include: fields.include of public.users names column "nmae", which public.users does not have; did you mean "name"? (columns: id, name, email) Fix: name existing columns (the document holds the row's columns)`,
      `${F}:${at(text, '{ keys: ["user:{id}", "user:{nme}"')}: error: [sink cache (redis)] sinks[1].table.overrides.public.users: table public.users: key template "user:{nme}" uses unknown column "nme"; did you mean "name"? (columns: id, name, email): no key would be computed from it, so nothing is invalidated Fix: name existing columns in the template`,
      `${F}:${at(text, '{ keys: ["user:{id}", "user:{nme}"')}: warning: [sink cache (redis)] sinks[1].table.overrides.public.users: key template "user:email:{email}" uses email, not part of public.users's replica identity (REPLICA IDENTITY DEFAULT): updates and deletes do not carry the old value, so the key of the old value stays cached when it changes or the row is deleted Fix: ALTER TABLE public.users REPLICA IDENTITY FULL; or use templates on key columns only`,
      `${F}:${at(text, `http://127.0.0.1:${closedPort}\n    database`)}: error: [sink analytics (clickhouse)] sinks[2].url: ClickHouse at http://127.0.0.1:${closedPort} unreachable within 4 s (connection refused: nothing listens on that port) Fix: check the sink's url, and that ClickHouse runs and is reachable from here (HTTP port, default 8123)`,
    ]);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('14 errors, 2 warnings');
    expect(r.stdout).toMatch(/ {2}sink search \(elasticsearch\): FAILED \(3 errors\) — at http:\/\/127\.0\.0\.1:\d+; 2 tables/);

    // The same as JSON: counts, and each finding with its component, path and location.
    const j = await run(['validate', '-c', 'bad.yaml', '--online', '--timeout', '4000', '--json']);
    expect(j.code).toBe(1);
    const json = JSON.parse(j.stdout) as { ok: boolean; errors: number; warnings: number; pipelines: { components: { component: string; version: string | null; findings: { severity: string; path: string | null; line: number | null; column: number | null; message: string }[] }[] }[] };
    expect(json).toMatchObject({ ok: false, errors: 14, warnings: 2 });
    const redis = json.pipelines[0]?.components.find((c) => c.component === 'sink cache (redis)');
    expect(redis?.version).toMatch(/^Redis \d/);
    const [line, column] = at(text, '{ keys: ["user:{id}", "user:{nme}"').split(':').map(Number);
    expect(redis?.findings[0]).toMatchObject({ severity: 'error', path: 'sinks[1].table.overrides.public.users', line, column });
  }, 180_000);

  it('service state: a slot another process streams and this pipeline does not own, a publication missing a table, Kafka topics and limits, a silent server, a missing ClickHouse table, a refused password', async () => {
    const text = `${source(`${prefix}-b`, `  slot.name: ${id}_other
  publication.name: ${id}_pub
  publication.autocreate.mode: all_tables
  table.include.list: public.users,public.orders
  kafka.transaction.timeout.ms: 3600000`)}  topic.creation.partitions: 3
sinks:
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:${silentPort}
    tables: [public.users]
  - name: analytics
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${id}
    table.create: false
    tables: [public.orders]
  - name: wrongpw
    type: clickhouse
    url: ${ep.clickhouseUrl}
    auth:
      password: not-the-password
    database: ${id}
    tables: [public.orders]
`;
    writeFileSync(join(dir, 'state.yaml'), text);
    const L = (key: string): string => value(text, key);
    // Another client streams the slot (pg_recvlogical, as a stray consumer would).
    const recv = spawn('pg_recvlogical', ['-d', pgDbUrl(), '--slot', `${id}_other`, '--start', '-o', 'proto_version=1', '-o', `publication_names=${id}_pub`, '-f', '/dev/null'], { stdio: 'ignore' });
    let pid: number | undefined;
    try {
      for (let i = 0; i < 100 && pid === undefined; i++) {
        const c = admin(db);
        await c.connect();
        pid = (await c.query<{ p: number | null }>(`SELECT active_pid AS p FROM pg_replication_slots WHERE slot_name = '${id}_other'`)).rows[0]?.p ?? undefined;
        await c.end();
        if (pid === undefined) await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      recv.kill();
      throw err;
    }
    expect(pid, 'pg_recvlogical streams the slot').toBeTypeOf('number');
    const r = await run(['validate', '-c', 'state.yaml', '--online', '--timeout', '2000']).finally(() => recv.kill());
    expect(r.code).toBe(1);
    const F = 'state.yaml';
    const out = problems(r);
    expect(out).toHaveLength(11);
    expect(out).toContain(
      `${F}:${L('slot.name')}: error: [postgres] source.slot.name: replication slot "${id}_other" exists (active pid ${pid}, confirmed_flush_lsn ${/confirmed_flush_lsn (\S+)\)/.exec(out.join('\n'))?.[1]}) but is not owned by pipeline "${prefix}-b": pipeline "${prefix}-b" has no record of creating it (another pipeline or tool made it, or this pipeline's offsets topic was reset). Streaming from it would steal changes from its owner, and dropping it would lose them. Ways forward: give this pipeline its own slot.name (and publication.name); or, if the slot really is this pipeline's and its owner is gone, take it over with \`slot.takeover: true\` in the source config or \`cdc-fanout run --take-over-slot ${prefix}-b\` (the slot is then this pipeline's; remove the option afterwards).`,
    );
    expect(out).toContain(
      `${F}:${L('slot.name')}: error: [postgres] source.slot.name: replication slot "${id}_other" is active in another process (pid ${pid}) at confirmed_flush_lsn ${/confirmed_flush_lsn (\S+)\)/.exec(out.join('\n'))?.[1]}; another cdc-fanout (or other client) is streaming it. Stop it, or give this connector its own slot.name. (SELECT pg_terminate_backend(${pid}) ends it.)`,
    );
    expect(out).toContain(
      `${F}:${L('publication.name')}: error: [postgres] source.publication.name: publication "${id}_pub" does not include public.orders (publication.autocreate.mode=all_tables leaves an existing publication as it is): the snapshot reads it, but its later changes never reach Kafka Fix: ALTER PUBLICATION "${id}_pub" ADD TABLE "public"."orders"; or set publication.autocreate.mode: filtered`,
    );
    expect(out).toContain(
      `${F}:${L('kafka.transaction.timeout.ms')}: error: [kafka] source.kafka.transaction.timeout.ms: source.kafka.transaction.timeout.ms is 3600000 but the brokers cap transactions at transaction.max.timeout.ms=900000: the source's transactional producer would be refused (INVALID_TRANSACTION_TIMEOUT) Fix: set source.kafka.transaction.timeout.ms to at most 900000, or raise transaction.max.timeout.ms on the brokers`,
    );
    expect(out).toContain(
      `${F}:${L('topic.creation.partitions')}: warning: [kafka] kafka.topic.creation.partitions: existing topic ${prefix}-b.public.users (1 partition) has fewer partitions than kafka.topic.creation.partitions=3: cdc-fanout leaves existing topics alone, so a sink scales to fewer consumers Fix: add partitions before the first event (kafka-topics --alter --partitions N; later it moves keys to other partitions), or lower topic.creation.partitions`,
    );
    // The users topic exists with the broker default (delete): a rebuild cannot recompute it; the fix is named.
    expect(out.find((l) => l.includes(`data topic "${prefix}-b.public.users" has cleanup.policy=delete`))).toMatch(
      new RegExp(`warning: \\[kafka\\] source\\.topic\\.cleanup\\.policy: .*cannot recompute public\\.users from it.* Fix: kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${prefix}-b\\.public\\.users --add-config cleanup\\.policy=compact`),
    );
    expect(out).toContain(`${F}:${L('topic.prefix')}: error: [kafka] source.topic.prefix: offsets topic "${prefix}-b.cdc-fanout.offsets" has 2 partitions; the source's position needs one total order (1 partition) Fix: recreate it with 1 partition and cleanup.policy=compact, or point source.offsets.topic at a new name`);
    expect(out).toContain(
      `${F}:${L('topic.prefix')}: error: [kafka] source.topic.prefix: offsets topic "${prefix}-b.cdc-fanout.offsets" has cleanup.policy=delete: retention would delete the source's committed position and slot ownership record Fix: kafka-configs --alter --entity-type topics --entity-name ${prefix}-b.cdc-fanout.offsets --add-config cleanup.policy=compact`,
    );
    expect(out).toContain(`${F}:${L('url')}: error: [sink search (elasticsearch)] sinks[0].url: Elasticsearch at http://127.0.0.1:${silentPort} unreachable within 2 s (no answer) Fix: check the sink's url, and that Elasticsearch runs and is reachable from here`);
    expect(out).toContain(
      `${F}:${L('table.create')}: error: [sink analytics (clickhouse)] sinks[1].table.create: ClickHouse table ${id}.public_orders for public.orders does not exist and table.create is false; create it (see migrations/clickhouse/example.sql) or set table.create: true`,
    );
    const url = ep.clickhouseUrl.replace(/\/$/, '').replace(/[.]/g, '\\.');
    expect(out.find((l) => l.includes('[sink wrongpw'))).toMatch(
      new RegExp(`^${F}:${L('password')}: error: \\[sink wrongpw \\(clickhouse\\)\\] sinks\\[2\\]\\.auth\\.password: ClickHouse at ${url} refused user "default": .*(password|Authentication).* Fix: check auth\\.username and auth\\.password$`, 'i'),
    );
  }, 180_000);
});
