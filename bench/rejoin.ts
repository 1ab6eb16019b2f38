/**
 * `npx tsx bench/rejoin.ts` — how long do sinks sit in STARTING after a daemon restart?
 * Starts a one-table pipeline with two Redis sinks (`cdc-fanout run`, child process), waits until
 * everything runs, then `--rounds` times: stops the daemon (`--signal SIGTERM` = graceful, the sinks
 * leave their consumer groups; `SIGKILL` = crash, the broker must expire the dead members), starts it
 * again and measures, from the moment the admin server listens, how long until each sink is RUNNING.
 * `--bin` runs another checkout's CLI (e.g. main's, for a before/after comparison).
 * Needs the stack (Postgres, Kafka, Redis). Prints one line per round and a JSON summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { endpoints } from '../scripts/stack/endpoints.js';
import { benchKafka } from './kafka-bench.js';

const { values: args } = parseArgs({
  options: {
    bin: { type: 'string', default: join(import.meta.dirname, '..', 'bin', 'cdc-fanout.js') },
    rounds: { type: 'string', default: '3' },
    signal: { type: 'string', default: 'SIGTERM' },
  },
});
const ep = endpoints();
const pgUrl = new URL(ep.postgresUrl);
const name = `rj_${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-rejoin-'));
const config = join(dir, 'p.yaml');
writeFileSync(
  config,
  `name: ${name}
source:
  topic.prefix: ${name}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.user: ${decodeURIComponent(pgUrl.username || 'postgres')}
${pgUrl.password ? `  database.password: "${decodeURIComponent(pgUrl.password)}"\n` : ''}  database.dbname: ${pgUrl.pathname.slice(1) || 'postgres'}
  slot.name: ${name}_slot
  publication.name: ${name}_pub
  publication.autocreate.mode: filtered
  table.include.list: public.${name}
kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
sinks:
${['one', 'two'].map((s) => `  - name: ${s}\n    type: redis\n    url: ${ep.redisUrl}\n    tables:\n      public.${name}: { keys: ["${name}:${s}:{id}"] }\n`).join('')}`,
);

interface Daemon {
  proc: ChildProcess;
  url: string;
  listeningAt: number;
}

function start(): Promise<Daemon> {
  const proc = spawn(process.execPath, [args.bin, 'run', '--config', config, '--admin-port', '0'], { env: { ...process.env, CDC_FANOUT_STATE_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d: Buffer): void => {
      out += d.toString();
      const m = /admin server listening on (https?:\/\/[^"\s]+)/.exec(out);
      if (m) {
        proc.stdout.off('data', on);
        resolve({ proc, url: m[1] as string, listeningAt: Date.now() });
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.on('exit', (code) => reject(new Error(`daemon exited ${code}:\n${out}`)));
  });
}

async function untilRunning(d: Daemon): Promise<Record<string, number>> {
  const at: Record<string, number> = {};
  for (;;) {
    try {
      const body = (await (await fetch(`${d.url}/pipelines`)).json()) as { pipelines: { sinks: { name: string; state: string }[] }[] };
      for (const s of body.pipelines[0]?.sinks ?? []) if (s.state === 'RUNNING' && at[s.name] === undefined) at[s.name] = Date.now() - d.listeningAt;
      if (Object.keys(at).length === 2) return at;
    } catch {
      // not up yet
    }
    if (Date.now() - d.listeningAt > 180_000) throw new Error('sinks not RUNNING after 180 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(d: Daemon, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill(signal);
  await exited;
}

const db = new pg.Client({ connectionString: ep.postgresUrl });
await db.connect();
await db.query(`CREATE TABLE public.${name} (id int PRIMARY KEY, name text)`);
await db.query(`INSERT INTO public.${name} SELECT g, 'x' FROM generate_series(1, 100) g`);
const results: { round: number; sinksRunningMs: Record<string, number> }[] = [];
try {
  let d = await start();
  const first = await untilRunning(d);
  console.log(`first start (creates topics): sinks RUNNING after ${JSON.stringify(first)} ms`);
  for (let round = 1; round <= Number(args.rounds); round++) {
    await new Promise((r) => setTimeout(r, 2000));
    await stop(d, args.signal as NodeJS.Signals);
    d = await start();
    const at = await untilRunning(d);
    results.push({ round, sinksRunningMs: at });
    console.log(`restart ${round} after ${args.signal}: sinks RUNNING ${JSON.stringify(at)} ms after the admin server listened`);
  }
  await stop(d, 'SIGTERM');
} finally {
  await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`${name}_slot`]).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${name}_pub`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS public.${name}`).catch(() => undefined);
  await db.end();
  const redis = new Redis(ep.redisUrl);
  const keys = await redis.keys(`${name}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.del(`cdc:offsets:cdc-fanout.${name}.one`, `cdc:offsets:cdc-fanout.${name}.two`);
  redis.disconnect();
  const admin = benchKafka({ clientId: 'bench-rejoin' }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(name));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
const all = results.flatMap((r) => Object.values(r.sinksRunningMs));
console.log(JSON.stringify({ bin: args.bin, signal: args.signal, rounds: results, maxMs: Math.max(...all), meanMs: Math.round(all.reduce((a, b) => a + b, 0) / all.length) }));
