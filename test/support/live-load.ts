/**
 * Live load for the rebuild end-to-end tests (test/daemon/rebuild*.e2e.test.ts): a Postgres table of
 * BASE rows that a background writer keeps updating, inserting into and deleting from while a rebuild
 * runs, background readers that sample what a client of the sink is served, and the row-by-row
 * comparison of Postgres with a sink's target, with a message that names the differing rows.
 *
 * The table is `public.<name> (id int PRIMARY KEY, name text, qty int)`, seeded with ids 1..BASE
 * (`'row <id>'`, qty = id). The writer only ever updates base rows (qty grows by one, never shrinks)
 * and inserts/deletes extra rows (ids above BASE), so the table never has fewer than BASE rows: a
 * reader that sees fewer saw a partial target.
 *
 * Also here: the rebuild CLI of one pipeline's sink (RebuildRuns: a run, a run killed with SIGKILL
 * when a condition holds, the run that resumes a rebuild killed in its grace period), and the views
 * of Elasticsearch and ClickHouse the tests compare and poll (documents, rows, stored rebuild state).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Client as EsClient } from '@elastic/elasticsearch';
import pg from 'pg';
import { expect } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { DaemonHarness, pipelineYaml, type CliResult } from './daemon-harness.js';

export interface Row {
  id: number;
  name: string;
  qty: number;
}

/**
 * A rebuild test's daemon harness and seeded table (made side by side), and its pipeline config:
 * `public.<name>` captured into 3-partition topics, with `sinks` (see esSinkYaml, chSinkYaml) and
 * further `source` lines.
 */
export async function liveLoadHarness(name: string, tmpPrefix: string, sinks: readonly string[], source: readonly string[] = []): Promise<{ h: DaemonHarness; load: LiveLoad }> {
  const [h, load] = await Promise.all([DaemonHarness.create({ name, tmpPrefix, cliEnv: { CDC_LOG_LEVEL: 'warn' } }), LiveLoad.create(name)]);
  h.writeConfig(liveLoadYaml(name, sinks, source));
  return { h, load };
}

/** The pipeline of liveLoadHarness as YAML (for a second config directory). */
export function liveLoadYaml(name: string, sinks: readonly string[], source: readonly string[] = []): string {
  return pipelineYaml({ name, tables: `public\\.${name}`, source, kafka: ['topic.creation.partitions: 3'], sinks: sinks.join('') });
}

// The live sinks write small batches (20 records or 20 ms), so they keep writing while a rebuild runs.
const SMALL_BATCHES = '    batch.max.records: 20\n    batch.max.wait.ms: 20\n';

/** An Elasticsearch sink of `public.<table>`, as it stands under `sinks:`. */
export function esSinkYaml(o: { name: string; table: string; checkpoints: string; url?: string }): string {
  return `  - name: ${o.name}\n    type: elasticsearch\n    url: ${o.url ?? endpoints().elasticsearchUrl}\n    tables: [public.${o.table}]\n    checkpoint.index: ${o.checkpoints}\n${SMALL_BATCHES}`;
}

/** A ClickHouse sink of `public.<table>` into `database`, as it stands under `sinks:`. */
export function chSinkYaml(o: { name: string; table: string; database: string; url?: string }): string {
  return `  - name: ${o.name}\n    type: clickhouse\n    url: ${o.url ?? endpoints().clickhouseUrl}\n    database: ${o.database}\n    tables: [public.${o.table}]\n${SMALL_BATCHES}`;
}

/** Rows the writer inserts and deletes have ids BASE+1 … BASE+EXTRA_IDS. */
const EXTRA_IDS = 200;

/**
 * The grace period of the rebuild runs killed in it. The run that resumes (RebuildRuns.resumeInGrace)
 * must start inside it, so that ending only after the stored deadline shows it kept that deadline
 * (and did not take its own --grace 0). That run waits out the rest of it, so every second here is a
 * second of the test's wall time: 15 s leaves the resuming run ~10 s to spare (the kill lands within
 * one poll of the retiring phase, the next spawn milliseconds later, and a run that took --grace 0
 * would be done in ~3 s), where the 60 s it was before only waited.
 */
export const KILLED_GRACE_MS = 15_000;

/** A name unique to this run (tables, topics, indices, groups): `<prefix>_<time><random>`. */
export function runName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A background loop: `stop()` ends it after the current round and resolves with its result. */
export interface Loop<R> {
  stop(): Promise<R>;
}

export interface Writer extends Loop<number> {
  /** Transactions committed so far. */
  readonly changes: number;
}

export interface CountStats {
  reads: number;
  /** The smallest count any read answered (Infinity before the first). */
  min: number;
  errors: string[];
}

export class LiveLoad {
  /** Schema-qualified: `public.<name>`. */
  readonly table: string;
  readonly base: number;
  private readonly db: pg.Client;
  private readonly loops: Loop<unknown>[] = [];

  private constructor(db: pg.Client, name: string, base: number) {
    this.db = db;
    this.table = `public.${name}`;
    this.base = base;
  }

  /** Creates `public.<name>` with BASE rows (dropped by the harness's cleanup, not here). */
  static async create(name: string, base = 1500): Promise<LiveLoad> {
    const db = new pg.Client({ connectionString: endpoints().postgresUrl });
    await db.connect();
    const load = new LiveLoad(db, name, base);
    await db.query(`CREATE TABLE ${load.table} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
    await db.query(`INSERT INTO ${load.table} (id, name, qty) SELECT g, 'row ' || g, g FROM generate_series(1, ${base}) g`);
    return load;
  }

  /** The table as Postgres has it now, by id. */
  async rows(): Promise<Row[]> {
    return (await this.db.query<Row>(`SELECT id, name, qty FROM ${this.table} ORDER BY id`)).rows;
  }

  /**
   * Writes in its own connection until stopped, one transaction every ~5 ms: an update of a random
   * base row (qty + 1), every 3rd an insert (or update) of an extra row, every 5th a delete of one.
   */
  startWriter(): Writer {
    let n = 0;
    const t = this.table;
    const extra = (): number => this.base + 1 + Math.floor(Math.random() * EXTRA_IDS);
    const w = new pg.Client({ connectionString: endpoints().postgresUrl });
    const loop = this.background(
      async () => {
        await w.query('BEGIN');
        await w.query(`UPDATE ${t} SET qty = qty + 1, name = 'upd ' || $1::text WHERE id = $2`, [n, 1 + Math.floor(Math.random() * this.base)]);
        if (n % 3 === 0) await w.query(`INSERT INTO ${t} (id, name, qty) VALUES ($1, 'extra', 0) ON CONFLICT (id) DO UPDATE SET qty = ${t}.qty + 1`, [extra()]);
        if (n % 5 === 0) await w.query(`DELETE FROM ${t} WHERE id = $1`, [extra()]);
        await w.query('COMMIT');
        n++;
      },
      { everyMs: 5, open: () => w.connect(), close: () => w.end(), result: () => n },
    );
    return {
      get changes() {
        return n;
      },
      stop: () => loop.stop(),
    };
  }

  /**
   * Runs `read` every `everyMs` (default 10) until stopped; an exception is recorded in `errors` and
   * the loop goes on. `close` runs once at the end (e.g. the reader's own connection).
   */
  startLoop<S extends { errors: string[] }>(stats: S, read: (stats: S) => Promise<void>, opts: { everyMs?: number; close?: () => void | Promise<void> } = {}): Loop<S> {
    return this.background(
      async () => {
        try {
          await read(stats);
        } catch (e) {
          stats.errors.push((e as Error).message);
        }
      },
      { everyMs: opts.everyMs ?? 10, ...(opts.close ? { close: opts.close } : {}), result: () => stats },
    );
  }

  /** `round` every `everyMs` between `open` and `close` until stopped (close() stops it too); an exception ends it and stop() rethrows it. */
  private background<R>(round: () => Promise<void>, o: { everyMs: number; open?: () => Promise<unknown>; close?: () => void | Promise<void>; result: () => R }): Loop<R> {
    let running = true;
    const loop = (async () => {
      await o.open?.();
      try {
        while (running) {
          await round();
          await sleep(o.everyMs);
        }
      } finally {
        await o.close?.();
      }
    })();
    const handle: Loop<R> = {
      stop: async () => {
        running = false;
        await loop;
        return o.result();
      },
    };
    this.loops.push(handle);
    return handle;
  }

  /** A reader that asks `count` what a client is served (every ~10 ms): how many reads, the smallest answer, every error. */
  startCountReader(count: () => Promise<number>): Loop<CountStats> {
    return this.startLoop<CountStats>({ reads: 0, min: Number.POSITIVE_INFINITY, errors: [] }, async (s) => {
      const n = await count();
      s.reads++;
      s.min = Math.min(s.min, n);
    });
  }

  /** Differences between the table and `actual` (id → what the target holds; empty = equal). */
  async diff(actual: Map<number, Partial<Row>>, target: string): Promise<string[]> {
    return diffRows(await this.rows(), actual, target);
  }

  /** Stops what is still running (a failed test leaves loops behind) and closes the connection. */
  async close(): Promise<void> {
    for (const l of this.loops) await l.stop().catch(() => undefined);
    await this.db.end();
  }
}

/**
 * Row-by-row differences between `expected` (Postgres) and `actual` (id → the target's copy; `qty`
 * may come back as a string, as ClickHouse's JSON gives integers): `missing <id>`, `stale <id>: pg …
 * <target> …`, `extra <id>`. Empty when equal.
 */
export function diffRows(expected: readonly Row[], actual: ReadonlyMap<number, Partial<Row>>, target = 'target'): string[] {
  const out: string[] = [];
  for (const r of expected) {
    const d = actual.get(r.id);
    if (!d) out.push(`missing ${r.id}`);
    else if (d.name !== r.name || Number(d.qty) !== r.qty) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} ${target} ${JSON.stringify(d)}`);
  }
  const ids = new Set(expected.map((r) => r.id));
  for (const id of actual.keys()) if (!ids.has(id)) out.push(`extra ${id}`);
  return out;
}

/** One line per kind of difference and the first few of each, for an assertion's message. */
export function describeDiff(diff: readonly string[], shown = 5): string {
  if (diff.length === 0) return 'equal';
  const kinds = new Map<string, string[]>();
  for (const d of diff) {
    const kind = /^\S+/.exec(d)?.[0] ?? '?';
    kinds.set(kind, [...(kinds.get(kind) ?? []), d]);
  }
  return [`${diff.length} differences:`, ...[...kinds].map(([k, ds]) => `  ${ds.length} ${k}: ${ds.slice(0, shown).join('; ')}${ds.length > shown ? '; …' : ''}`)].join('\n');
}

/**
 * Polls `diff` (every `everyMs`) until it is empty; on timeout fails with the last differences,
 * described, and the tail of the harness's daemon output (what the sinks said meanwhile).
 */
export async function waitEqual(what: string, diff: () => Promise<string[]>, opts: { harness?: DaemonHarness; timeoutMs?: number; everyMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'not compared yet';
  for (;;) {
    try {
      const d = await diff();
      if (d.length === 0) return;
      last = describeDiff(d);
    } catch (e) {
      last = `the comparison failed: ${(e as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not equal after ${timeoutMs} ms; last comparison: ${last}${opts.harness ? await daemonContext(opts.harness) : ''}`);
    await sleep(opts.everyMs ?? 500);
  }
}

/** For a failure message: the sinks' states and lag from the daemon's admin API, and the tail of its output. */
async function daemonContext(h: DaemonHarness): Promise<string> {
  const sinks = await h
    .pipeline()
    .then((p) => p.sinks.map((s) => `  ${s.name}: ${s.state}${s.reason ? ` (${s.reason})` : ''}, lag ${s.lag}, ${s.records} records${s.lastError ? `, last error ${s.lastError.at}: ${s.lastError.message}` : ''}`).join('\n'))
    .catch((e: unknown) => `  (no status: ${(e as Error).message})`);
  return `\nsinks:\n${sinks}\ndaemon output (tail):\n${h.daemon?.output().slice(-6000) ?? '(not running)'}`;
}

/** Every document of an Elasticsearch index (or alias) after a refresh, by numeric `_id`. */
export async function esDocs(es: EsClient, index: string): Promise<Map<number, Partial<Row>>> {
  await es.indices.refresh({ index });
  const out = new Map<number, Partial<Row>>();
  let page = await es.search<Partial<Row>>({ index, size: 5000, scroll: '1m', query: { match_all: {} } });
  try {
    while (page.hits.hits.length > 0) {
      for (const h of page.hits.hits) out.set(Number(h._id), h._source ?? {});
      page = await es.scroll<Partial<Row>>({ scroll_id: page._scroll_id!, scroll: '1m' });
    }
  } finally {
    if (page._scroll_id) await es.clearScroll({ scroll_id: page._scroll_id }).catch(() => undefined);
  }
  return out;
}

/** The rebuild state the Elasticsearch sink stores in its checkpoint index (null: none). */
export async function esRebuildState(es: EsClient, checkpoints: string, group: string): Promise<RebuildState | null> {
  const res = await es.get<{ rebuild?: RebuildState }>({ index: checkpoints, id: `rebuild|${group}` }).catch(() => null);
  return res?._source?.rebuild ?? null;
}

/** A ClickHouse query's rows (JSONEachRow). */
export function chQuery(ch: ClickHouseClient): <R>(sql: string) => Promise<R[]> {
  return async <R>(sql: string): Promise<R[]> => (await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as R[];
}

/** The rows of a ClickHouse table or view, by id. */
export async function chRows(ch: ClickHouseClient, table: string): Promise<Map<number, Row>> {
  return new Map((await chQuery(ch)<Row>(`SELECT id, name, qty FROM ${table}`)).map((r) => [Number(r.id), r]));
}

/** `SELECT count()` of a ClickHouse table or view. */
export async function chCount(ch: ClickHouseClient, table: string): Promise<number> {
  return Number((await chQuery(ch)<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0]?.n ?? 0);
}

/** The rebuild state the ClickHouse sink stores in `<database>.cdc_fanout_checkpoints_generations` (null: none). */
export async function chRebuildState(ch: ClickHouseClient, database: string, group: string): Promise<RebuildState | null> {
  const r = await chQuery(ch)<{ s: string }>(`SELECT argMax(state, updated_at) AS s FROM ${database}.cdc_fanout_checkpoints_generations WHERE group = '${group}' GROUP BY group`).catch(() => []);
  return r[0] ? (JSON.parse(r[0].s) as RebuildState) : null;
}

/** `cdc-fanout rebuild <pipeline> -c <cfgDir> --sink <sink> …` through a DaemonHarness's CLI. */
export class RebuildRuns {
  constructor(
    private readonly h: DaemonHarness,
    private readonly sink: string,
    private readonly cfgDir: string = h.cfgDir,
  ) {}

  private args(more: readonly string[]): string[] {
    return ['rebuild', this.h.name, '-c', this.cfgDir, '--sink', this.sink, ...more];
  }

  /** A run to its end. */
  run(args: readonly string[] = [], timeoutMs = 400_000): Promise<CliResult> {
    return this.h.cli(this.args(args), timeoutMs);
  }

  /** A run SIGKILLed once `when` holds (polled every `everyMs`); fails if the run ends first. */
  killedWhen(what: string, when: () => Promise<boolean>, args: readonly string[], everyMs = 100): Promise<void> {
    return this.h.cliKilledWhen(what, this.args(args), when, 240_000, everyMs);
  }

  /** A run to its end while `load` writes, which must make `generation` live; resolves with the writer's transactions. */
  async runWhileWriting(load: LiveLoad, generation: number, args: readonly string[]): Promise<number> {
    const writer = load.startWriter();
    const r = await this.run(args);
    const changes = await writer.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`generation ${generation} is live`);
    return changes;
  }

  /**
   * The run (`--grace 0`) that resumes a rebuild killed in its grace period (`retiring`: the state
   * stored then). It must start before the stored deadline and end only after it — it keeps the
   * deadline of the killed run, not its own --grace — and say it resumed.
   */
  async resumeInGrace(retiring: RebuildState | null): Promise<CliResult> {
    const dropAfter = Date.parse(retiring?.dropAfter ?? '');
    expect(Number.isFinite(dropAfter), `the killed run stored its deadline: ${JSON.stringify(retiring)}`).toBe(true);
    expect(dropAfter - Date.now(), 'ms left of the grace period when the resuming run starts').toBeGreaterThan(0);
    const r = await this.run(['--grace', '0']);
    const ended = Date.now();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`generation ${retiring?.generation} is live (resumed)`);
    expect(ended, 'the resumed run ended before the stored deadline (it took its own --grace 0)').toBeGreaterThanOrEqual(dropAfter);
    return r;
  }
}
