/**
 * One verify run: a private database, pipeline and sink namespaces; seed; start the daemon (sinks
 * reached through TCP proxies); wait for the snapshot in every sink; fill the cache; then a mixed
 * write load under a seeded schedule of faults; then stop the load, let the daemon catch up, and
 * reconcile every sink with Postgres (checker.ts) and count Kafka duplicates (kafka-check.ts).
 * Used by scripts/verify/main.ts (`npm run verify`) and test/verify/verify.test.ts (short run).
 *
 * HA mode (`ha: true`, `npm run verify -- --ha`): two daemons run the same pipeline file (two pods);
 * one runs the source, the other waits as STANDBY; both run the sinks (one consumer group each
 * sink). A `daemon-kill` then kill -9s whichever daemon runs the source — so the kills alternate
 * between the two — measures the time until the other one's source is RUNNING (takeover), restarts
 * the killed one and waits until it shows STANDBY (never FAILED: counted from the logs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from '../stack/net.js';
import { join } from 'node:path';
import { stackKafka } from '../stack/kafka-client.js';
import pg from 'pg';
import { check, checkExamples, fillCache, type CheckResult } from './checker.js';
import { checkKafka, type KafkaCheck } from './kafka-check.js';
import { DDL, Load, TABLES, type LoadStats } from './load.js';
import { planFaults, type FaultKind, type PlannedFault } from './faults.js';
import { TcpProxy } from './proxy.js';
import { RawRedis } from './resp.js';
import { rng } from './rng.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface Endpoints {
  readonly postgresUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly elasticsearchUrl: string;
  readonly clickhouseUrl: string;
  readonly redisUrl: string;
}

/** Kill/restart of stack services (scripts/stack), needed only for the service faults. */
export interface ServiceControl {
  /** pid of the service process the stack started (undefined: not ours, cannot be killed). */
  pid(service: 'kafka' | 'elasticsearch' | 'clickhouse' | 'redis'): number | undefined;
  /** Start it again and wait until healthy; resolves to the stack's note. */
  up(service: 'elasticsearch' | 'clickhouse' | 'redis'): Promise<string>;
}

export interface VerifyOptions {
  readonly seed: number;
  readonly faults: number;
  readonly kinds: readonly FaultKind[];
  readonly gapMs: readonly [number, number];
  readonly seedRows: number;
  readonly txPerSec: number;
  readonly endpoints: Endpoints;
  readonly services?: ServiceControl;
  readonly catchUpTimeoutMs: number;
  /** Leave the database, topics, indices and keys in place after the run. */
  readonly keep: boolean;
  readonly log: (msg: string) => void;
  /** Aborting stops the run at the next step; what it created is still removed (unless keep). */
  readonly signal?: AbortSignal;
  /** Two daemons with the same config (daemon HA); daemon-kill kills the one running the source. */
  readonly ha?: boolean;
}

export interface Takeover {
  readonly killed: string;
  readonly tookOverBy: string;
  /** kill -9 → the other daemon's source RUNNING (ms); null = not within 120 s. */
  readonly takeoverMs: number | null;
  /** restart of the killed daemon → its source STANDBY (ms); null = not seen within 60 s. */
  readonly standbyMs: number | null;
  /** Its /metrics then said cdc_fanout_component_state{component="source",state="STANDBY"} 1. */
  readonly standbyMetric: boolean;
}

export interface HaReport {
  readonly takeovers: readonly Takeover[];
  /** Source failures logged by each daemon (`source: FAILED`): a standby must not show any. */
  readonly sourceFailures: Readonly<Record<string, number>>;
  /** Times a daemon was seen with its source STANDBY while the other one's was RUNNING. */
  readonly standbySeen: number;
}

export interface FaultRecord extends PlannedFault {
  readonly n: number;
  readonly atS: number;
  readonly detail: string;
  readonly recoveredMs: number;
}

export interface VerifyReport {
  readonly seed: number;
  readonly id: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly options: Omit<VerifyOptions, 'services' | 'log' | 'endpoints' | 'signal'>;
  readonly endpoints: Endpoints;
  readonly faults: FaultRecord[];
  readonly load: LoadStats;
  readonly daemon: { readonly starts: number; readonly unexpectedExits: number; readonly logFile: string };
  /** HA mode only. */
  readonly ha?: HaReport;
  readonly catchUpS: number;
  readonly sinks: CheckResult;
  readonly kafka: KafkaCheck;
  readonly lost: number;
  readonly duplicated: number;
  readonly stale: number;
  readonly ok: boolean;
  readonly examples: string[];
}

/** The command that replays a run's fault schedule and load (timings still depend on the machine). */
export function replayCommand(o: Pick<VerifyOptions, 'seed' | 'faults' | 'kinds' | 'gapMs' | 'seedRows' | 'txPerSec' | 'ha'>): string {
  return `npm run verify -- ${o.ha ? '--ha ' : ''}--seed ${o.seed} --faults ${o.faults} --kinds ${o.kinds.join(',')} --gap ${o.gapMs[0] / 1000}-${o.gapMs[1] / 1000} --seed-rows ${o.seedRows} --rate ${o.txPerSec}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function hostPort(url: string, defPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || defPort) };
}

class Daemon {
  private proc: ChildProcess | undefined;
  starts = 0;
  unexpectedExits = 0;
  private readonly out: WriteStream;

  constructor(
    private readonly config: string,
    readonly logFile: string,
    private readonly log: (m: string) => void,
    /** HA mode: a fixed admin port (to ask this daemon's state) and its own record dir. */
    readonly admin?: { readonly port: number; readonly stateDir: string; readonly label: string },
  ) {
    this.out = createWriteStream(logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** This daemon's Prometheus text (empty when not answering). */
  async metrics(): Promise<string> {
    if (!this.admin || !this.proc) return '';
    try {
      return await (await fetch(`http://127.0.0.1:${this.admin.port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    } catch {
      return '';
    }
  }

  /** This daemon's source state from its admin API (undefined: not answering). */
  async sourceState(): Promise<string | undefined> {
    if (!this.admin || !this.proc) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${this.admin.port}/pipelines`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { pipelines: { source: { state: string } }[] };
      return body.pipelines[0]?.source.state;
    } catch {
      return undefined;
    }
  }

  start(): void {
    this.starts++;
    this.out.write(`\n===== verify: daemon start #${this.starts} at ${new Date().toISOString()} =====\n`);
    const p = spawn(process.execPath, ['--max-old-space-size=256', join(ROOT, 'bin', 'cdc-fanout.js'), 'run', '--config', this.config, '--admin-port', String(this.admin?.port ?? 0), '--shutdown-timeout-ms', '30000'], {
      env: { ...process.env, CDC_LOG_LEVEL: 'info', ...(this.admin ? { CDC_FANOUT_STATE_DIR: this.admin.stateDir } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout!.pipe(this.out, { end: false });
    p.stderr!.pipe(this.out, { end: false });
    p.on('exit', (code, signal) => {
      if (this.proc === p) {
        // Nobody asked it to stop: a crash the verify run reports (and recovers from by restarting).
        this.unexpectedExits++;
        this.proc = undefined;
        this.log(`daemon exited on its own (code ${code}, signal ${signal}); restarting it — see ${this.logFile}`);
        setTimeout(() => {
          if (this.proc === undefined && !this.stopped) this.start();
        }, 1000);
      }
    });
    this.proc = p;
  }

  private stopped = false;

  async stop(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.stop('SIGTERM');
    await new Promise((r) => this.out.end(r));
  }
}

function pipelineYaml(o: { name: string; db: string; pg: { host: string; port: number; user: string; password: string }; brokers: readonly string[]; es: string; ch: string; chDb: string; redis: string; redisPrefix: string }): string {
  const q = (s: string): string => JSON.stringify(s);
  return `# Generated by scripts/verify/run.ts for one verify run.
name: ${o.name}
source:
  topic.prefix: ${o.name}
  database.hostname: ${q(o.pg.host)}
  database.port: ${o.pg.port}
  database.user: ${q(o.pg.user)}
  database.password: ${q(o.pg.password)}
  database.dbname: ${o.db}
  slot.name: ${o.name}
  publication.name: ${o.name}
  publication.autocreate.mode: filtered
  table.include.list: public.accounts,public.docs,public.items
  snapshot.mode: initial
  heartbeat.interval.ms: 2000
kafka:
  bootstrap.servers: ${q(o.brokers.join(','))}
  topic.creation.partitions: 3
sinks:
  - name: search
    type: elasticsearch
    url: ${q(o.es)}
    tables: [public.accounts, public.docs, public.items]
    errors.retry.max.backoff.ms: 5000
  - name: analytics
    type: clickhouse
    url: ${q(o.ch)}
    database: ${o.chDb}
    tables: [public.accounts, public.docs, public.items]
    errors.retry.max.backoff.ms: 5000
  - name: cache
    type: redis
    url: ${q(o.redis)}
    errors.retry.max.backoff.ms: 5000
    tables: [public.accounts, public.docs, public.items]
    table.overrides:
      public.accounts: { keys: [${q(`${o.redisPrefix}acct:{id}`)}] }
      public.docs: { keys: [${q(`${o.redisPrefix}doc:{id}`)}] }
      public.items: { keys: [${q(`${o.redisPrefix}item:{sku}`)}], mode: write-through }
`;
}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const id = randomBytes(4).toString('hex');
  const name = `verify_${id}`;
  const ep = o.endpoints;
  const log = (m: string): void => o.log(`[verify ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}`);
  const faultRng = rng(o.seed);
  const loadRng = rng(o.seed ^ 0x5eed);
  const plan = planFaults(faultRng, o.faults, o.kinds, o.gapMs);
  for (const k of o.kinds) {
    if (k.endsWith('-kill') && k !== 'daemon-kill' && !o.services) throw new Error(`fault kind ${k} needs the stack's service control (run through scripts/verify/main.ts)`);
  }
  log(`seed ${o.seed} (replay: ${replayCommand(o)}); run id ${id}; ${plan.length} faults planned: ${plan.map((f) => f.kind).join(', ')}`);

  const admin = new pg.Client({ connectionString: ep.postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const db = new pg.Client({ connectionString: withDatabase(ep.postgresUrl, name) });
  await db.connect();
  const dir = mkdtempSync(join(tmpdir(), `cdc-fanout-${name}-`));
  const proxies = {
    elasticsearch: new TcpProxy('elasticsearch', hostPort(ep.elasticsearchUrl, 9200).host, hostPort(ep.elasticsearchUrl, 9200).port),
    clickhouse: new TcpProxy('clickhouse', hostPort(ep.clickhouseUrl, 8123).host, hostPort(ep.clickhouseUrl, 8123).port),
    redis: new TcpProxy('redis', hostPort(ep.redisUrl, 6379).host, hostPort(ep.redisUrl, 6379).port),
  };
  const redisPrefix = `${name}:`;
  let redis: RawRedis | undefined;
  let daemon: Daemon | undefined;
  const daemons: Daemon[] = [];
  const takeovers: Takeover[] = [];
  let standbySeen = 0;
  const load = new Load(db, loadRng);
  const kafka = stackKafka({ clientId: 'cdc-fanout-verify-admin', brokers: [...ep.kafkaBrokers] });
  try {
    for (const sql of DDL) await db.query(sql);
    const seeded = await load.seed(o.seedRows);
    log(`database ${name}: ${seeded} seed rows in accounts, docs (TOASTed body), items`);
    const chHttp = async (sql: string): Promise<void> => {
      const res = await fetch(`${ep.clickhouseUrl}/`, { method: 'POST', body: sql });
      if (!res.ok) throw new Error(`ClickHouse: ${sql}: HTTP ${res.status} ${await res.text()}`);
    };
    await chHttp(`CREATE DATABASE IF NOT EXISTS ${name}`);
    for (const p of Object.values(proxies)) await p.start();
    const pgu = new URL(ep.postgresUrl);
    const yamlFile = join(dir, `${name}.yaml`);
    const redisVia = new URL(ep.redisUrl);
    redisVia.host = `127.0.0.1:${proxies.redis.port}`;
    writeFileSync(
      yamlFile,
      pipelineYaml({
        name,
        db: name,
        pg: { host: pgu.hostname, port: Number(pgu.port || 5432), user: decodeURIComponent(pgu.username || 'postgres'), password: decodeURIComponent(pgu.password) },
        brokers: ep.kafkaBrokers,
        es: `http://127.0.0.1:${proxies.elasticsearch.port}`,
        ch: `http://127.0.0.1:${proxies.clickhouse.port}`,
        chDb: name,
        redis: redisVia.toString(),
        redisPrefix,
      }),
    );
    redis = await RawRedis.open(ep.redisUrl);
    if (o.ha) {
      for (const label of ['A', 'B']) {
        const stateDir = join(dir, `state-${label}`);
        daemons.push(new Daemon(yamlFile, join(dir, `daemon-${label}.log`), log, { port: await freePort(), stateDir, label }));
      }
      daemon = daemons[0]!;
    } else {
      daemon = new Daemon(yamlFile, join(dir, 'daemon.log'), log);
      daemons.push(daemon);
    }
    for (const d of daemons) d.start();
    log(`${daemons.length} daemon(s) started with ${yamlFile} (logs ${daemons.map((d) => d.logFile).join(', ')}); proxies es :${proxies.elasticsearch.port}, clickhouse :${proxies.clickhouse.port}, redis :${proxies.redis.port}`);

    const targets = { db, elasticsearchUrl: ep.elasticsearchUrl, clickhouseUrl: ep.clickhouseUrl, clickhouseDatabase: name, topicPrefix: name, redis, redisPrefix, touched: load.touched };
    const snap = await waitClean(targets, 240_000, 0);
    if (!snap.result.ok) throw new Error(`the initial snapshot did not reach every sink in 240 s: ${checkExamples(snap.result).slice(0, 5).join('; ')}`);
    // Re-open the checker's Redis connection whenever Redis was restarted (see reopen below).
    const cached = await fillCache(db, redis, redisPrefix);
    load.resetTouched();
    log(`snapshot in every sink; cache filled with ${cached} keys; load starts at ~${o.txPerSec} tx/s`);
    load.start(o.txPerSec);

    const faults: FaultRecord[] = [];
    for (const [i, f] of plan.entries()) {
      await sleep(f.gapMs);
      o.signal?.throwIfAborted();
      const at = (Date.now() - t0) / 1000;
      const t = Date.now();
      const detail = await inject(f);
      const rec: FaultRecord = { ...f, n: i + 1, atS: Math.round(at), detail, recoveredMs: Date.now() - t };
      faults.push(rec);
      log(`fault ${i + 1}/${plan.length} ${f.kind}: ${detail} (${rec.recoveredMs} ms) — load ${load.stats.transactions} tx, ${load.stats.expectedChangeEvents} changes`);
    }
    await load.stop();
    log(`load stopped: ${JSON.stringify(load.stats)}; waiting for the sinks to catch up`);
    const tc = Date.now();
    redis.close();
    redis = await RawRedis.open(ep.redisUrl);
    const final = await waitClean({ ...targets, redis }, o.catchUpTimeoutMs, 90_000);
    const catchUpS = Math.round((Date.now() - tc) / 1000);
    log(`sinks ${final.result.ok ? 'reconciled' : 'NOT reconciled'} after ${catchUpS} s`);
    for (const d of daemons) await d.close();
    const topics = TABLES.map((t) => `${name}.public.${t}`);
    const tombstonesExpected = load.stats.deletes + load.stats.pkUpdates;
    const kc = await checkKafka(ep.kafkaBrokers, topics, load.stats.expectedChangeEvents, seeded + load.stats.expectedChangeEvents + tombstonesExpected);
    log(`kafka: ${kc.records} records read_committed, ${kc.duplicates} duplicate positions, ${kc.missingChangeEvents} change events missing`);
    const lost = final.result.lost + kc.missingChangeEvents;
    const duplicated = final.result.duplicated + kc.duplicates;
    const stale = final.result.stale;
    const { services: _s, log: _l, endpoints: _e, signal: _g, ...options } = o;
    return {
      seed: o.seed,
      id,
      startedAt,
      durationS: Math.round((Date.now() - t0) / 1000),
      options,
      endpoints: ep,
      faults,
      load: load.stats,
      daemon: { starts: daemons.reduce((a, d) => a + d.starts, 0), unexpectedExits: daemons.reduce((a, d) => a + d.unexpectedExits, 0), logFile: daemons.map((d) => d.logFile).join(', ') },
      ...(o.ha ? { ha: { takeovers, standbySeen, sourceFailures: Object.fromEntries(daemons.map((d) => [d.admin!.label, sourceFailures(d.logFile)])) } } : {}),
      catchUpS,
      sinks: final.result,
      kafka: kc,
      lost,
      duplicated,
      stale,
      ok: lost + duplicated + stale === 0 && kc.withoutPosition === 0 && (!o.ha || takeovers.every((t) => t.takeoverMs !== null && t.standbyMs !== null)),
      examples: [...checkExamples(final.result), ...kc.examples],
    };
  } finally {
    await load.stop().catch(() => undefined);
    for (const d of daemons) await d.close().catch(() => undefined);
    redis?.close();
    for (const p of Object.values(proxies)) await p.close().catch(() => undefined);
    await db.end().catch(() => undefined);
    if (!o.keep) await cleanup().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
    await admin.end().catch(() => undefined);
  }

  async function inject(f: PlannedFault): Promise<string> {
    switch (f.kind) {
      case 'daemon-kill': {
        if (o.ha) return haKill(f);
        await daemon!.stop('SIGKILL');
        await sleep(f.holdMs);
        daemon!.start();
        return `kill -9 the daemon, restarted after ${f.holdMs} ms`;
      }
      case 'proxy-cut': {
        const p = proxies[f.proxy];
        p.refuse(true);
        const n = p.cut();
        await sleep(f.holdMs);
        p.refuse(false);
        return `cut ${n} open ${f.proxy} connection(s) (${p.accepted} accepted so far), refused new ones for ${f.holdMs} ms`;
      }
      case 'kafka-freeze': {
        const pid = o.services!.pid('kafka');
        if (pid === undefined) throw new Error('kafka-freeze: Kafka was not started by the stack scripts (no pid); run with a stack the verify run owns or leave out kafka-freeze');
        signalGroup(pid, 'SIGSTOP');
        try {
          await sleep(f.holdMs);
        } finally {
          signalGroup(pid, 'SIGCONT');
        }
        return `SIGSTOP Kafka for ${f.holdMs} ms, then SIGCONT`;
      }
      case 'elasticsearch-kill':
      case 'clickhouse-kill':
      case 'redis-kill': {
        const svc = f.kind.replace('-kill', '') as 'elasticsearch' | 'clickhouse' | 'redis';
        const pid = o.services!.pid(svc);
        if (pid === undefined) throw new Error(`${f.kind}: ${svc} was not started by the stack scripts (no pid); run with a stack the verify run owns or leave out ${f.kind}`);
        signalGroup(pid, f.signal);
        const deadline = Date.now() + 60_000;
        while (alive(pid) && Date.now() < deadline) await sleep(100);
        if (alive(pid)) signalGroup(pid, 'SIGKILL');
        while (alive(pid)) await sleep(100);
        await sleep(f.holdMs);
        // A JVM restart on a busy 2-core machine can outlast the stack's start timeout: wait again
        // (up() on a process that is ours but not yet healthy only waits), three times at most.
        let note = '';
        for (let attempt = 1; ; attempt++) {
          try {
            note = await o.services!.up(svc);
            break;
          } catch (err) {
            if (attempt >= 3) throw err;
            log(`${svc} not healthy yet (attempt ${attempt}): ${(err as Error).message.split('\n')[0]}`);
          }
        }
        if (svc === 'redis' && redis) {
          redis.close();
          redis = await RawRedis.open(ep.redisUrl);
        }
        return `${f.signal} ${svc} (pid ${pid}), down ${f.holdMs} ms, ${note}`;
      }
    }
  }

  /** HA: kill -9 the daemon running the source; time the other's takeover; restart the killed one as standby. */
  async function haKill(f: PlannedFault): Promise<string> {
    const states = async (): Promise<(string | undefined)[]> => Promise.all(daemons.map((d) => d.sourceState()));
    let active = -1;
    for (let i = 0; i < 600 && active < 0; i++) {
      const s = await states();
      active = s.indexOf('RUNNING');
      if (active < 0) await sleep(200);
    }
    if (active < 0) throw new Error('HA: neither daemon runs the source (no source RUNNING within 120 s)');
    const victim = daemons[active]!;
    const other = daemons[1 - active]!;
    if ((await other.sourceState()) === 'STANDBY') standbySeen++;
    const t = Date.now();
    await victim.stop('SIGKILL');
    let takeoverMs: number | null = null;
    while (Date.now() - t < 120_000) {
      if ((await other.sourceState()) === 'RUNNING') {
        takeoverMs = Date.now() - t;
        break;
      }
      await sleep(200);
    }
    await sleep(f.holdMs);
    const r = Date.now();
    victim.start();
    let standbyMs: number | null = null;
    while (Date.now() - r < 60_000) {
      const st = await victim.sourceState();
      if (st === 'STANDBY') {
        standbyMs = Date.now() - r;
        break;
      }
      await sleep(200);
    }
    const standbyMetric = standbyMs !== null && /cdc_fanout_component_state\{[^}]*component="source"[^}]*state="STANDBY"[^}]*\} 1\b/.test(await victim.metrics());
    const a = victim.admin!.label;
    const b = other.admin!.label;
    takeovers.push({ killed: a, tookOverBy: b, takeoverMs, standbyMs, standbyMetric });
    return `kill -9 daemon ${a} (running the source); daemon ${b} took over ${takeoverMs === null ? 'NOT within 120 s' : `after ${takeoverMs} ms`}; ${a} restarted after ${f.holdMs} ms, STANDBY ${standbyMs === null ? 'NOT seen within 60 s' : `after ${standbyMs} ms`}`;
  }

  async function cleanup(): Promise<void> {
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      const topics = (await admin2.listTopics()).filter((t) => t.includes(name));
      if (topics.length > 0) await admin2.deleteTopics({ topics });
      const groups = (await admin2.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(name));
      if (groups.length > 0) await admin2.deleteGroups(groups).catch(() => undefined);
    } finally {
      await admin2.disconnect();
    }
    for (const t of TABLES) await fetch(`${ep.elasticsearchUrl}/${name}.public.${t}`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${ep.clickhouseUrl}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${name}` }).catch(() => undefined);
    const r = await RawRedis.open(ep.redisUrl);
    try {
      const keys = [...(await r.scan(`${name}:*`)), ...(await r.scan(`cdc:*${name}*`))];
      for (let i = 0; i < keys.length; i += 500) await r.call('UNLINK', ...keys.slice(i, i + 500));
    } finally {
      r.close();
    }
    for (let i = 0; i < 40; i++) {
      const s = await admin.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [name]);
      if (s.rows.length === 0) break;
      if (s.rows[0]!.active_pid === null) {
        await admin.query('SELECT pg_drop_replication_slot($1)', [name]);
        break;
      }
      await sleep(500);
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  }

  /** Poll the checker until clean; give up at the timeout, or when nothing changed for `settleMs` (0: never). */
  async function waitClean(targets: Parameters<typeof check>[0], timeoutMs: number, settleMs: number): Promise<{ result: CheckResult }> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let since = Date.now();
    for (;;) {
      let result: CheckResult | undefined;
      try {
        result = await check(targets);
      } catch (err) {
        log(`check: ${(err as Error).message}`);
      }
      if (result?.ok) return { result };
      const sig = JSON.stringify(result);
      if (sig !== last) {
        last = sig;
        since = Date.now();
      }
      o.signal?.throwIfAborted();
      if (result && (Date.now() > deadline || (settleMs > 0 && Date.now() - since > settleMs))) return { result };
      if (!result && Date.now() > deadline) throw new Error('the checker could not read the sinks before the deadline');
      await sleep(3000);
    }
  }
}

/** How often a daemon's log says its source failed (the supervisor logs `source: FAILED`). */
function sourceFailures(logFile: string): number {
  try {
    return readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"source: FAILED')).length;
  } catch {
    return 0;
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    process.kill(pid, sig);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
