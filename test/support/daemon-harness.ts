/**
 * The daemon end-to-end harness: one pipeline config in a temp directory, the real daemon
 * (`cdc-fanout run`, test/daemon/helpers.ts) started on a free admin port with a private state
 * directory, the CLI run against the same state directory (and a default admin address where no
 * daemon listens, so it never reaches another test's daemon), this pipeline's status from the admin
 * API, and the cleanup every such test needs: the daemon killed, its replication slots dropped once
 * their walsenders let go, publication, tables, topics, consumer groups, Elasticsearch indices,
 * ClickHouse database and Redis keys removed.
 *
 * Names follow the tests' convention: pipeline = topic prefix = `name`, slot `${name}_slot`,
 * publication `${name}_pub`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { PipelineStatus, SinkStatus } from '../../src/daemon/status.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { pipelines, startDaemon, waitFor, type DaemonProcess } from '../daemon/helpers.js';
import { freePort } from './ports.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js');
const ep = endpoints();

export interface PipelineYaml {
  /** Pipeline name and topic prefix; the slot is `${name}_slot`, the publication `${name}_pub`. */
  readonly name: string;
  /** The source's table.include.list, as written in YAML. */
  readonly tables: string;
  /** Further source lines (`key: value`, comments), without indentation. */
  readonly source?: readonly string[];
  /** Further kafka lines, without indentation. */
  readonly kafka?: readonly string[];
  /** The connection lines (no indentation); default: the shared stack's Postgres. */
  readonly server?: readonly string[];
  /** The `sinks:` list, indented as it stands under `sinks:`. */
  readonly sinks: string;
}

/** The shared stack's Postgres as source connection lines (user, password when set, database). */
export function stackServer(): string[] {
  const u = new URL(ep.postgresUrl);
  return [
    `database.hostname: ${u.hostname}`,
    `database.port: ${u.port || 5432}`,
    `database.user: ${decodeURIComponent(u.username || 'postgres')}`,
    ...(u.password ? [`database.password: "${decodeURIComponent(u.password)}"`] : []),
    `database.dbname: ${u.pathname.slice(1) || 'postgres'}`,
  ];
}

/** A one-pipeline config file: the conventions above, streaming with a short batch wait. */
export function pipelineYaml(p: PipelineYaml): string {
  const source = [
    `topic.prefix: ${p.name}`,
    ...(p.server ?? stackServer()),
    `slot.name: ${p.name}_slot`,
    `publication.name: ${p.name}_pub`,
    'publication.autocreate.mode: filtered',
    `table.include.list: ${p.tables}`,
    'max.batch.wait.ms: 20',
    ...(p.source ?? []),
  ];
  const kafka = [`bootstrap.servers: ${ep.kafkaBrokers.join(',')}`, ...(p.kafka ?? [])];
  const indent = (lines: readonly string[]): string => lines.map((l) => `  ${l}\n`).join('');
  return `name: ${p.name}\nsource:\n${indent(source)}kafka:\n${indent(kafka)}sinks:\n${p.sinks.replace(/\n*$/, '\n')}`;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HarnessOptions {
  /** Pipeline name (see the module comment); every cleanup is scoped to it. */
  readonly name: string;
  /** Prefix of the temp directory's name. */
  readonly tmpPrefix: string;
  /** Environment of every daemon and CLI run (e.g. secrets the config interpolates). */
  readonly env?: Readonly<Record<string, string>>;
  /** Further environment of CLI runs only (e.g. CDC_LOG_LEVEL). */
  readonly cliEnv?: Readonly<Record<string, string>>;
  /** The CLI's default admin port, where nothing listens; default: a free port. */
  readonly noDaemonPort?: number;
}

export interface Cleanup {
  /** Postgres tables (schema-qualified) to drop on the shared stack. */
  readonly tables?: readonly string[];
  /** Slots to drop besides `${name}_slot`; `pg: false` skips Postgres (a private cluster). */
  readonly slots?: readonly string[];
  readonly pg?: boolean;
  /** Kafka topics starting with this (default `name`) are deleted, and consumer groups containing `name`. */
  readonly topicPrefix?: string;
  /** Elasticsearch indices (patterns allowed). */
  readonly indices?: readonly string[];
  /** ClickHouse databases to drop (url: default the shared stack's). */
  readonly clickhouse?: { readonly url?: string; readonly databases: readonly string[] };
  /** Redis: database URL, key patterns to delete, and single keys. */
  readonly redis?: { readonly url?: string; readonly patterns?: readonly string[]; readonly keys?: readonly string[] };
}

export class DaemonHarness {
  readonly name: string;
  readonly dir: string;
  /** The config directory (`connectors/`, holding p.yaml): what `run -c` and the CLI get. */
  readonly cfgDir: string;
  readonly stateDir: string;
  readonly noDaemonPort: number;
  daemon: DaemonProcess | undefined;
  private readonly opts: HarnessOptions;

  private constructor(opts: HarnessOptions, noDaemonPort: number) {
    this.opts = opts;
    this.name = opts.name;
    this.noDaemonPort = noDaemonPort;
    this.dir = mkdtempSync(join(tmpdir(), opts.tmpPrefix));
    this.stateDir = join(this.dir, 'state');
    this.cfgDir = join(this.dir, 'connectors');
    mkdirSync(this.cfgDir);
  }

  static async create(opts: HarnessOptions): Promise<DaemonHarness> {
    return new DaemonHarness(opts, opts.noDaemonPort ?? (await freePort()));
  }

  /** Writes the pipeline's config file (connectors/p.yaml). */
  writeConfig(yaml: string): void {
    writeFileSync(join(this.cfgDir, 'p.yaml'), yaml);
  }

  /** Starts the daemon on a free admin port (or `--admin-port` in args) with the private state directory. */
  async start(args: string[] = []): Promise<DaemonProcess> {
    this.daemon = await startDaemon(this.cfgDir, { CDC_FANOUT_STATE_DIR: this.stateDir, ...this.opts.env }, args);
    return this.daemon;
  }

  /** Stops the running daemon (SIGTERM: a clean shutdown) and resolves with its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const d = this.running();
    this.daemon = undefined;
    return d.stop(signal);
  }

  running(): DaemonProcess {
    if (!this.daemon) throw new Error('test bug: the daemon is not running');
    return this.daemon;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.opts.env, CDC_FANOUT_STATE_DIR: this.stateDir, CDC_ADMIN_URL: '', CDC_ADMIN_PORT: String(this.noDaemonPort), ...this.opts.cliEnv };
  }

  /** `cdc-fanout <args>` to its end. */
  cli(args: readonly string[], timeoutMs = 120_000): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { env: this.env(), timeout: timeoutMs }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }

  /** `cdc-fanout <args>` as a child process, SIGKILLed once `when` holds (polled every `everyMs`); fails if it ends first. */
  async cliKilledWhen(what: string, args: readonly string[], when: () => Promise<boolean>, timeoutMs = 240_000, everyMs = 100): Promise<void> {
    const child = spawn(process.execPath, [bin, ...args], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => (done = true));
    await waitFor(`${what} (${args[0]} output so far: ${out})`, async () => done || (await when()), timeoutMs, everyMs);
    expect(done, `the ${args[0]} ended before it could be killed ${what}:\n${out}`).toBe(false);
    child.kill('SIGKILL');
    await exited;
  }

  /** This pipeline's status from the running daemon's admin API; throws once the daemon has exited. */
  async pipeline(): Promise<PipelineStatus> {
    const d = this.running();
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) throw new Error(`the daemon exited (${d.proc.exitCode ?? d.proc.signalCode})`);
    const p = (await pipelines(d.url)).find((x) => x.name === this.name);
    if (!p) throw new Error(`no pipeline "${this.name}" in /pipelines`);
    return p;
  }

  async sink(name: string): Promise<SinkStatus> {
    const s = (await this.pipeline()).sinks.find((x) => x.name === name);
    if (!s) throw new Error(`pipeline "${this.name}" has no sink "${name}" in /pipelines`);
    return s;
  }

  /** waitFor, with the tail of the daemon's output in the error. */
  async waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number, everyMs?: number): Promise<T> {
    try {
      return await waitFor(what, fn, timeoutMs, everyMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}\ndaemon output (tail):\n${this.daemon?.output().slice(-4000) ?? '(none)'}`);
    }
  }

  /** Everything the tests made, best effort (each step on its own: one failure does not skip the rest). */
  async cleanup(c: Cleanup = {}): Promise<void> {
    await this.daemon?.stop('SIGKILL');
    this.daemon = undefined;
    const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
    if (c.pg !== false) {
      const db = new pg.Client({ connectionString: ep.postgresUrl });
      await db.connect();
      try {
        // The killed daemon's walsender lets go of the slot a moment later.
        for (const slot of [`${this.name}_slot`, ...(c.slots ?? [])]) {
          for (let i = 0; i < 40; i++) {
            const r = await db.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
            if (r.rows.length === 0) break;
            if (r.rows[0]!.active_pid === null) {
              await quiet(db.query('SELECT pg_drop_replication_slot($1)', [slot]));
              break;
            }
            await new Promise((res) => setTimeout(res, 250));
          }
        }
        await quiet(db.query(`DROP PUBLICATION IF EXISTS ${this.name}_pub`));
        if (c.tables?.length) await quiet(db.query(`DROP TABLE IF EXISTS ${c.tables.join(', ')}`));
      } finally {
        await db.end();
      }
    }
    // Our client (kafkajs with the idle-timer patch: no negative-timer warning on Node 24).
    const admin = kafkaClient(kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(','), 'client.id': 'daemon-harness' })).admin();
    await admin.connect();
    try {
      const prefix = c.topicPrefix ?? this.name;
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length) await quiet(admin.deleteTopics({ topics }));
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(this.name));
      if (groups.length) await quiet(admin.deleteGroups(groups));
    } finally {
      await admin.disconnect();
    }
    if (c.indices?.length) await quiet(fetch(`${ep.elasticsearchUrl}/${c.indices.map((i) => encodeURIComponent(i.toLowerCase())).join(',')}?ignore_unavailable=true&allow_no_indices=true`, { method: 'DELETE' }));
    for (const database of c.clickhouse?.databases ?? []) await quiet(fetch(`${(c.clickhouse?.url ?? ep.clickhouseUrl).replace(/\/$/, '')}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${database}` }));
    if (c.redis) {
      const redis = new Redis(c.redis.url ?? ep.redisUrl);
      try {
        const keys = [...(c.redis.keys ?? [])];
        for (const pattern of c.redis.patterns ?? []) keys.push(...(await redis.keys(pattern)));
        if (keys.length) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
