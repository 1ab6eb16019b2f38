/**
 * Kafka Connect standalone with Debezium's PostgreSQL connector, against the running stack — the
 * oracle of the event contract (test/events/debezium-differential.test.ts) and the other side of
 * the Debezium benchmark. The jars come from Maven Central through stack/debezium/pom.xml, which is
 * not part of the default stack build: `debeziumEnsure()` resolves them on first use only.
 *
 *   node --import tsx scripts/stack/debezium.ts --table public.orders [--prefix p] [--schemas] [--seconds 60]
 *
 * runs one connector (unique slot / publication / topic prefix unless given) until Ctrl-C or
 * `--seconds`, then stops Connect and drops the slot and publication it used.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { endpoints } from './endpoints.js';
import { aptEnsure, commandExists } from './install.js';
import { freePort } from './net.js';
import { STACK_LIB, STACK_SRC, STATE_DIR } from './paths.js';

export const DEBEZIUM_POM = join(STACK_SRC, 'debezium', 'pom.xml');
export const DEBEZIUM_LIB = join(STACK_LIB, 'debezium');

function pomProperty(pom: string, name: string): string {
  const m = new RegExp(`<${name.replace(/\./g, '\\.')}>([^<]+)</`).exec(readFileSync(pom, 'utf8'));
  if (!m?.[1]) throw new Error(`${pom}: property <${name}> not found`);
  return m[1];
}

/** Versions pinned in stack/debezium/pom.xml (Connect = the stack broker's Kafka version). */
export function debeziumVersions(): { debezium: string; kafka: string; jackson: string } {
  const kafka = pomProperty(DEBEZIUM_POM, 'kafka.version');
  const broker = pomProperty(join(STACK_SRC, 'kafka', 'pom.xml'), 'kafka.version');
  // invariant: Connect runs the same Kafka version as the stack's broker
  if (kafka !== broker) throw new Error(`stack/debezium/pom.xml kafka.version ${kafka} differs from the broker's (stack/kafka/pom.xml ${broker}); set them equal.`);
  return { debezium: pomProperty(DEBEZIUM_POM, 'debezium.version'), kafka, jackson: pomProperty(DEBEZIUM_POM, 'jackson.version') };
}

/**
 * Resolve Connect + Debezium into stack/lib/debezium when missing or when the pom changed
 * (stamp = the pom's text). Throws with Maven's output when resolution fails.
 */
export function debeziumEnsure(log: (line: string) => void = console.log): void {
  debeziumVersions();
  const stamp = join(DEBEZIUM_LIB, '.stamp');
  const want = readFileSync(DEBEZIUM_POM, 'utf8');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  if (!commandExists('mvn') || !commandExists('java')) aptEnsure(['maven', 'openjdk-17-jdk-headless'], 'Maven and a JDK for Kafka Connect + Debezium');
  log('debezium: resolving Kafka Connect + Debezium jars (mvn -f stack/debezium/pom.xml package)…');
  const started = Date.now();
  // a version change must not leave the old jars beside the new ones on the classpath
  rmSync(DEBEZIUM_LIB, { recursive: true, force: true });
  const r = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', DEBEZIUM_POM, 'package'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`Maven could not resolve Connect + Debezium (mvn -f stack/debezium/pom.xml package, exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  writeFileSync(stamp, want);
  log(`debezium: ${readdirSync(DEBEZIUM_LIB).filter((f) => f.endsWith('.jar')).length} jars ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

const props = (o: Readonly<Record<string, string | number | boolean>>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    .join('\n') + '\n';

/** Postgres connection settings of the stack for a Debezium connector (database.*). */
export function debeziumPgConfig(dbname?: string): Record<string, string> {
  const u = new URL(endpoints().postgresUrl);
  return {
    'database.hostname': u.hostname,
    'database.port': u.port || '5432',
    'database.user': decodeURIComponent(u.username || 'postgres'),
    'database.password': decodeURIComponent(u.password),
    'database.dbname': dbname ?? (u.pathname.slice(1) || 'postgres'),
  };
}

export interface ConnectorSpec {
  /** Connector name (also the default slot name). */
  readonly name: string;
  /** Connector config; `connector.class`, pgoutput and the stack's database.* are filled in. */
  readonly config: Readonly<Record<string, string | number | boolean>>;
}

export interface ConnectOptions {
  readonly connectors: readonly ConnectorSpec[];
  /** JsonConverter schemas.enable of the worker (connectors may override `key.converter.*` / `value.converter.*`). */
  readonly schemas?: boolean;
  readonly heap?: string;
  readonly log?: (line: string) => void;
}

export interface ConnectStatus {
  readonly connector: { state: string };
  readonly tasks: { id: number; state: string; trace?: string }[];
}

/** A running Connect standalone worker. */
export class ConnectWorker {
  private exited = false;
  constructor(
    private readonly child: ChildProcess,
    readonly restUrl: string,
    readonly dir: string,
    readonly logFile: string,
  ) {
    child.once('exit', () => (this.exited = true));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Last lines of the worker's log, for error messages. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async status(name: string): Promise<ConnectStatus | undefined> {
    try {
      const r = await fetch(`${this.restUrl}/connectors/${encodeURIComponent(name)}/status`, { signal: AbortSignal.timeout(5000) });
      return r.ok ? ((await r.json()) as ConnectStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until the connector's task is RUNNING; throws with the task's trace or the log tail. */
  async waitRunning(name: string, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`Kafka Connect exited before connector ${name} ran; log ${this.logFile}:\n${this.logTail()}`);
      const st = await this.status(name);
      const failed = st?.tasks.find((t) => t.state === 'FAILED');
      if (failed || st?.connector.state === 'FAILED') throw new Error(`Debezium connector ${name} FAILED:\n${failed?.trace ?? this.logTail()}`);
      if (st?.connector.state === 'RUNNING' && st.tasks.length > 0 && st.tasks.every((t) => t.state === 'RUNNING')) return;
      if (Date.now() > end) throw new Error(`Debezium connector ${name} not RUNNING after ${timeoutMs} ms (status ${JSON.stringify(st)}); log ${this.logFile}:\n${this.logTail()}`);
      await sleep(500);
    }
  }

  /** Deletes the run directory (configs, offsets file, log); only once stopped. */
  removeDir(): void {
    if (this.exited) rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM (Connect stops its connectors and flushes offsets), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    process.kill(-this.child.pid, 'SIGTERM');
    const t = setTimeout(() => {
      if (!this.exited && this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL');
    }, graceMs);
    await gone;
    clearTimeout(t);
  }
}

const LOG4J = `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:connect.log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %c{1} - %m%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
`;

/**
 * Starts Connect standalone (offsets in a file under .stack/debezium/<run>/) with the given
 * connectors and returns once its REST API answers. The caller waits for each connector
 * (`waitRunning`) and stops the worker; the process group is killed if this process exits first.
 */
export async function startConnect(opts: ConnectOptions): Promise<ConnectWorker> {
  const log = opts.log ?? console.log;
  debeziumEnsure(log);
  const run = `run-${Date.now()}-${randomUUID().slice(0, 6)}`;
  const dir = join(STATE_DIR, 'debezium', run);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const restUrl = `http://127.0.0.1:${port}`;
  const schemas = opts.schemas ?? false;
  writeFileSync(
    join(dir, 'worker.properties'),
    props({
      'bootstrap.servers': endpoints().kafkaBrokers.join(','),
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': schemas,
      'value.converter.schemas.enable': schemas,
      'offset.storage.file.filename': join(dir, 'offsets.dat'),
      'offset.flush.interval.ms': 1000,
      listeners: restUrl,
      // everything is on the classpath; no plugin.path scanning of other directories
      'plugin.discovery': 'only_scan',
      // Connect may override per-connector converter and producer settings
      'connector.client.config.override.policy': 'All',
    }),
  );
  const connectorFiles = opts.connectors.map((c) => {
    const file = join(dir, `${c.name}.properties`);
    writeFileSync(
      file,
      props({
        'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
        'tasks.max': 1,
        'plugin.name': 'pgoutput',
        'slot.name': c.name,
        ...debeziumPgConfig(),
        'topic.creation.default.replication.factor': 1,
        'topic.creation.default.partitions': 1,
        ...c.config,
        name: c.name,
      }),
    );
    return file;
  });
  writeFileSync(join(dir, 'log4j2.properties'), LOG4J);
  const logFile = join(dir, 'connect.log');
  const out = createWriteStream(join(dir, 'connect.out'));
  const child = spawn(
    'java',
    [
      `-Xmx${opts.heap ?? '512m'}`,
      '-XX:+UseSerialGC',
      `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
      `-Dconnect.log.file=${logFile}`,
      '-cp',
      `${DEBEZIUM_LIB}/*`,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      join(dir, 'worker.properties'),
      ...connectorFiles,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const killOnExit = (): void => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const worker = new ConnectWorker(child, restUrl, dir, logFile);
  const end = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Kafka Connect exited (${child.exitCode}) during start-up; ${join(dir, 'connect.out')}:\n${readFileSync(join(dir, 'connect.out'), 'utf8').slice(-4000)}\n${worker.logTail()}`);
    try {
      if ((await fetch(`${restUrl}/connectors`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      await worker.stop(1000);
      throw new Error(`Kafka Connect REST ${restUrl} did not answer within 120 s; log ${logFile}:\n${worker.logTail()}`);
    }
    await sleep(500);
  }
  log(`debezium: Kafka Connect pid ${child.pid} REST ${restUrl} (log ${logFile})`);
  return worker;
}

/** Drops a replication slot (waiting up to `waitMs` for its walsender to go) and a publication. */
export async function dropSlotAndPublication(slot: string, publication: string | undefined, dbname?: string, waitMs = 15_000): Promise<void> {
  const u = new URL(endpoints().postgresUrl);
  if (dbname) u.pathname = `/${dbname}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    const end = Date.now() + waitMs;
    for (;;) {
      const r = await c.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      if (r.rows.length === 0) break;
      if (r.rows[0]?.active_pid && Date.now() < end) {
        await sleep(250);
        continue;
      }
      if (r.rows[0]?.active_pid) await c.query('SELECT pg_terminate_backend($1)', [r.rows[0].active_pid]);
      await c.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
      break;
    }
    if (publication) await c.query(`DROP PUBLICATION IF EXISTS "${publication.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      table: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      schemas: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      db: { type: 'string' },
      'install-only': { type: 'boolean', default: false },
    },
  });
  if (values['install-only']) {
    debeziumEnsure();
    console.log(JSON.stringify(debeziumVersions()));
    return;
  }
  const tables = values.table ?? [];
  if (tables.length === 0) throw new Error('give at least one --table <schema>.<table> to capture (e.g. --table public.orders)');
  const id = `dbz_${randomUUID().slice(0, 8)}`;
  const prefix = values.prefix ?? id.replace(/_/g, '-');
  const worker = await startConnect({
    schemas: values.schemas,
    connectors: [
      {
        name: id,
        config: {
          'topic.prefix': prefix,
          'publication.name': `${id}_pub`,
          'publication.autocreate.mode': 'filtered',
          'table.include.list': tables.map((t) => t.replace(/\./g, '\\.')).join(','),
          ...(values.db ? { 'database.dbname': values.db } : {}),
        },
      },
    ],
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('debezium: stopping Kafka Connect…');
    await worker.stop();
    await dropSlotAndPublication(id, `${id}_pub`, values.db);
    console.log(`debezium: stopped; slot ${id} and publication ${id}_pub dropped (topics ${prefix}.* kept)`);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await worker.waitRunning(id);
  console.log(`debezium: connector ${id} RUNNING; topics ${prefix}.<schema>.<table>; ${values.seconds ? `stopping in ${values.seconds} s` : 'Ctrl-C stops'}`);
  if (values.seconds) {
    await sleep(Number(values.seconds) * 1000);
    await stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
