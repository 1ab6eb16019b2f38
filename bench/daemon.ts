/**
 * `npm run bench:daemon` — is the daemon's memory flat over a long steady run?
 * Runs the demo pipeline (connectors/demo.yaml: source + Elasticsearch + ClickHouse + Redis) as a
 * child process under the demo's write workload at a steady rate, samples the daemon's RSS from
 * /proc every 5 s, and reports min / max / mean after a warm-up, the spread around the mean and the
 * trend (least-squares slope, MB per minute). Needs the stack (`npm run stack:up`).
 *   npm run bench:daemon -- --minutes 10 --rate 200
 * Results: bench/results/daemon.json (with machine and versions).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { endpoints } from '../src/config/endpoints.js';
import { resetSinks } from '../scripts/demo/reset.js';
import { DEMO_DB, demoUrl, newStats, resetDatabase, rng, seed, workloadStep, type SeedSize } from '../scripts/demo/shop.js';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    'warmup-seconds': { type: 'string', default: '60' },
    'admin-port': { type: 'string', default: '18099' },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const warmupS = Number(args['warmup-seconds']);
if (!(minutes > 0 && rate > 0 && warmupS >= 0)) {
  console.error('--minutes and --rate must be positive numbers, --warmup-seconds ≥ 0');
  process.exit(2);
}

const ep = endpoints();
const SIZE: SeedSize = { customers: 300, products: 60, orders: 400 };

function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

await resetSinks(ep, 'shop');
await resetDatabase(ep.postgresUrl, join(root, 'migrations'));
const db = new pg.Client({ connectionString: demoUrl(ep.postgresUrl) });
await db.connect();
await seed(db, SIZE);

const daemon = spawn(process.execPath, [join(root, 'bin', 'cdc-fanout.js'), 'run', '--config', join(root, 'connectors', 'demo.yaml'), '--admin-port', args['admin-port']], {
  env: { ...process.env, CDC_PG_DB: DEMO_DB, CDC_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const pid = daemon.pid;
if (pid === undefined) throw new Error('could not start the daemon');
let exited = false;
daemon.on('exit', (code) => {
  exited = true;
  if (code !== 0 && code !== null) console.error(`daemon exited with ${code}`);
});

const samples: { t: number; rss: number }[] = [];
const started = Date.now();
const stats = newStats();
const r = rng(11);
let step = 0;
let nextSample = 0;
console.log(`[bench:daemon] ${minutes} min at ~${rate} tx/s; RSS sampled every 5 s (warm-up ${warmupS} s not counted)`);
while (Date.now() - started < minutes * 60_000 && !exited) {
  const due = Math.floor(((Date.now() - started) / 1000) * rate);
  while (step < due) await workloadStep(db, r, step++, stats, SIZE);
  if (Date.now() >= nextSample) {
    nextSample = Date.now() + 5000;
    const t = (Date.now() - started) / 1000;
    const rss = rssMB(pid);
    samples.push({ t, rss });
    if (samples.length % 12 === 0) console.log(`[bench:daemon] ${t.toFixed(0)} s: RSS ${rss.toFixed(0)} MB, ${stats.transactions} transactions`);
  }
  await new Promise((res) => setTimeout(res, 5));
}
daemon.kill('SIGTERM');
await new Promise((res) => daemon.once('exit', res));
await db.end();
if (exited && Date.now() - started < minutes * 60_000) throw new Error('the daemon died during the run');

const counted = samples.filter((s) => s.t >= warmupS);
const rss = counted.map((s) => s.rss);
const mean = rss.reduce((a, b) => a + b, 0) / rss.length;
const min = Math.min(...rss);
const max = Math.max(...rss);
const slopePerMin = slope(
  counted.map((s) => s.t / 60),
  rss,
);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const result = {
  when: new Date().toISOString(),
  machine: { os: `${os.type()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), loadAvg1m: os.loadavg()[0] },
  versions: { node: process.version, 'cdc-fanout': pkg.version },
  config: { minutes, ratePerSecond: rate, warmupSeconds: warmupS, pipeline: 'connectors/demo.yaml (source + elasticsearch + clickhouse + redis)' },
  workload: { transactions: stats.transactions, transactionsPerSecond: Math.round(stats.transactions / ((Date.now() - started) / 1000)) },
  rssMB: {
    samples: rss.length,
    min: Math.round(min),
    max: Math.round(max),
    mean: Math.round(mean),
    spreadPercent: { below: Math.round(((mean - min) / mean) * 1000) / 10, above: Math.round(((max - mean) / mean) * 1000) / 10 },
    trendMBPerMinute: Math.round(slopePerMin * 100) / 100,
  },
  series: samples.map((s) => [Math.round(s.t), Math.round(s.rss)]),
};
writeFileSync(join(root, 'bench', 'results', 'daemon.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify({ workload: result.workload, rssMB: result.rssMB }, null, 2));
console.log('written bench/results/daemon.json');
