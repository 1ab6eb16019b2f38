/**
 * Generations of a ClickHouse sink's tables, for `cdc-fanout rebuild` (docs/rebuild.md).
 *
 * Readers query the table the sink names from `table.name.format` / `table.overrides` (and its
 * `_current` view, which refers to it by name). A rebuild writes generation N of each table as
 * `<table>__g<N>_<group hash>` (upsert mode, its own checkpoint group), then swaps it in per table:
 *   - `EXCHANGE TABLES <table> AND <generation>` where the database is Atomic (20.x+ default):
 *     atomic; the generation's name then holds the previous data, dropped after the grace period;
 *   - `RENAME TABLE <table> TO <table>__g<N>_<hash>_old, <generation> TO <table>` elsewhere (18.16's
 *     Ordinary databases): one statement, the previous data kept under the `_old` name.
 * The rebuild's state is one row per live group in `<checkpoint.table>_generations`
 * (ReplacingMergeTree, the latest `updated_at` wins), next to the checkpoint table.
 */
import { createHash } from 'node:crypto';
import { beforeSwap, tpKey, type GenerationStore, type GenerationSwap, type RebuildState } from '../generations.js';
import type { TopicPartition } from '../sink.js';
import type { ClickHouseConfig } from './config.js';
import { Conn, ident } from './conn.js';
import { quoteString, unescapeTsv } from './encode.js';

export function generationSuffix(group: string, generation: number): string {
  return `__g${generation}_${createHash('sha256').update(group).digest('hex').slice(0, 6)}`;
}

export class ClickHouseGenerations implements GenerationStore {
  private readonly conn: Conn;
  private atomic: boolean | undefined;
  /** Strictly increasing versions of the state rows (two saves in one millisecond). */
  private lastVersion = 0n;

  constructor(
    private readonly cfg: ClickHouseConfig,
    readonly liveGroup: string,
  ) {
    this.conn = new Conn({ url: cfg.url, username: cfg.auth?.username ?? 'default', password: cfg.auth?.password ?? '', tls: cfg.tls, requestTimeoutMs: cfg['request.timeout.ms'] });
  }

  private ref(name: string): string {
    return `${ident(this.cfg.database)}.${ident(name)}`;
  }

  private get stateRef(): string {
    return this.ref(`${this.cfg['checkpoint.table']}_generations`);
  }

  private get checkpointRef(): string {
    return this.ref(this.cfg['checkpoint.table']);
  }

  suffixFor(generation: number): string {
    return generationSuffix(this.liveGroup, generation);
  }

  rebuildConfig(state: RebuildState): Record<string, unknown> {
    const modes = [this.cfg.mode, ...Object.values(this.cfg['table.overrides']).map((o) => o.mode)];
    if (modes.includes('changelog')) {
      throw new Error('a ClickHouse sink with changelog-mode tables cannot be rebuilt from the log: a changelog is the history of changes, which a compacted topic no longer holds (tables in mode "both" rebuild their upsert table only)');
    }
    const suffix = beforeSwap(state) ? state.suffix : '';
    const overrides = Object.fromEntries(
      Object.entries(this.cfg['table.overrides']).map(([table, o]) => [table, { ...o, ...(o.mode ? { mode: 'upsert' } : {}), ...(o['table.name'] ? { 'table.name': `${o['table.name']}${suffix}` } : {}) }]),
    );
    return { 'checkpoint.group': state.rebuildGroup, 'table.name.format': `${this.cfg['table.name.format']}${suffix}`, mode: 'upsert', 'table.overrides': overrides };
  }

  async ensure(): Promise<void> {
    await this.conn.command(`CREATE DATABASE IF NOT EXISTS ${ident(this.cfg.database)}`, 'create database');
    // As the sink's open() creates it.
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${this.checkpointRef} (\`group\` String, \`topic\` String, \`partition\` UInt32, \`offset\` UInt64, \`updated_at\` UInt64) ENGINE = ReplacingMergeTree(\`updated_at\`) ORDER BY (\`group\`, \`topic\`, \`partition\`)`,
      'create checkpoint table',
    );
    await this.conn.command(`CREATE TABLE IF NOT EXISTS ${this.stateRef} (\`group\` String, \`state\` String, \`updated_at\` UInt64) ENGINE = ReplacingMergeTree(\`updated_at\`) ORDER BY \`group\``, 'create generations table');
    const engine = await this.conn.queryTsv(`SELECT engine FROM system.databases WHERE name = ${quoteString(this.cfg.database)}`, 'database engine');
    this.atomic = engine.rows[0]?.[0] === 'Atomic';
  }

  async load(group: string): Promise<RebuildState | null> {
    const r = await this.conn.queryTsv(`SELECT argMax(\`state\`, \`updated_at\`) FROM ${this.stateRef} WHERE \`group\` = ${quoteString(group)} GROUP BY \`group\``, 'read rebuild state');
    const text = r.rows[0]?.[0];
    return text === undefined ? null : (JSON.parse(unescapeTsv(text)) as RebuildState);
  }

  async save(state: RebuildState): Promise<void> {
    let version = BigInt(Date.now()) * 1000n;
    if (version <= this.lastVersion) version = this.lastVersion + 1n;
    this.lastVersion = version;
    await this.conn.command(`INSERT INTO ${this.stateRef} (\`group\`, \`state\`, \`updated_at\`) VALUES (${quoteString(state.group)}, ${quoteString(JSON.stringify(state))}, ${version})`, 'store rebuild state');
  }

  async offsets(group: string, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    const topics = [...new Set(partitions.map((p) => p.topic))];
    if (topics.length === 0) return out;
    const r = await this.conn.queryTsv(
      `SELECT \`topic\`, \`partition\`, argMax(\`offset\`, \`updated_at\`) FROM ${this.checkpointRef} WHERE \`group\` = ${quoteString(group)} AND \`topic\` IN (${topics.map(quoteString).join(', ')}) GROUP BY \`topic\`, \`partition\``,
      'read offsets',
    );
    for (const row of r.rows) out.set(tpKey({ topic: unescapeTsv(row[0] ?? ''), partition: Number(row[1]) }), BigInt(row[2] ?? '0'));
    return out;
  }

  async dropOffsets(group: string): Promise<void> {
    await this.conn.command(`ALTER TABLE ${this.checkpointRef} DELETE WHERE \`group\` = ${quoteString(group)}`, 'delete rebuild checkpoints');
  }

  private async tables(where: string): Promise<{ name: string; uuid: string }[]> {
    const uuid = this.atomic ? 'toString(uuid)' : "''";
    const r = await this.conn.queryTsv(`SELECT name, ${uuid} FROM system.tables WHERE database = ${quoteString(this.cfg.database)} AND ${where}`, 'list tables');
    return r.rows.map((row) => ({ name: unescapeTsv(row[0] ?? ''), uuid: row[1] ?? '' }));
  }

  private async table(name: string): Promise<{ name: string; uuid: string } | undefined> {
    return (await this.tables(`name = ${quoteString(name)}`))[0];
  }

  async planSwaps(suffix: string): Promise<GenerationSwap[]> {
    const swaps: GenerationSwap[] = [];
    for (const g of await this.tables(`endsWith(name, ${quoteString(suffix)}) AND engine NOT LIKE '%View'`)) {
      const name = g.name.slice(0, -suffix.length);
      const live = await this.table(name);
      const previous = live ? [this.atomic ? g.name : `${name}${suffix}_old`] : [];
      swaps.push({ name, generation: g.name, previous, legacy: false, ...(this.atomic ? { token: g.uuid } : {}) });
    }
    return swaps.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Per table: EXCHANGE (Atomic) or one RENAME statement; a swap already done (resumed) is skipped. */
  async swap(swaps: readonly GenerationSwap[]): Promise<void> {
    for (const s of swaps) {
      const live = await this.table(s.name);
      const gen = await this.table(s.generation);
      if (!live) {
        if (gen) await this.conn.command(`RENAME TABLE ${this.ref(s.generation)} TO ${this.ref(s.name)}`, `swap in ${s.name}`);
        continue;
      }
      if (this.atomic && s.token) {
        if (live.uuid === s.token) continue; // exchanged before a crash
        await this.conn.command(`EXCHANGE TABLES ${this.ref(s.name)} AND ${this.ref(s.generation)}`, `swap in ${s.name}`);
        continue;
      }
      if (!gen) continue; // renamed before a crash
      const old = s.previous[0] ?? `${s.name}${s.generation.slice(s.name.length)}_old`;
      await this.conn.command(`RENAME TABLE ${this.ref(s.name)} TO ${this.ref(old)}, ${this.ref(s.generation)} TO ${this.ref(s.name)}`, `swap in ${s.name}`);
    }
  }

  async dropPrevious(swaps: readonly GenerationSwap[]): Promise<string[]> {
    const dropped: string[] = [];
    const view = this.cfg['current.view.suffix'];
    for (const s of swaps) {
      // The generation's own view (it names the generation table, which no longer serves).
      const drop = [...s.previous.filter((p) => p !== s.name), ...(view ? [`${s.generation}${view}`] : [])];
      for (const name of drop) {
        if (!(await this.table(name))) continue;
        await this.conn.command(`DROP TABLE IF EXISTS ${this.ref(name)}`, `drop previous generation ${name}`);
        dropped.push(name);
      }
    }
    return dropped;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
