/**
 * `npm run bench:daemon` — is the daemon's memory flat over a long steady run?
 * Runs the demo pipeline (connectors/demo.yaml: source + Elasticsearch + ClickHouse + Redis) as a
 * child process under the demo's write workload at a steady rate, samples the daemon's RSS from
 * /proc every 5 s, and reports min / max / mean after a warm-up, the spread around the mean and the
 * trend (least-squares slope, MB per minute). Alongside RSS it records the daemon's V8 heap (used and
 * total), external memory and ArrayBuffers from its own /metrics (admin API), to tell a JS-heap leak
 * from native or allocator growth. Needs the stack (`npm run stack:up`).
 *   npm run bench:daemon -- --minutes 10 --rate 200
 * Diagnosis: `--node-flags=--max-semi-space-size=8` (with `=`: the value starts with a dash) passes flags to the daemon's node;
 * `--heap-snapshots 90,390` writes V8 heap snapshots of the daemon at those seconds (SIGUSR2) into
 * `--snapshot-dir` (default: the OS temp dir) — compare them in Chrome DevTools (Memory → Comparison).
 * `--config` runs another pipeline file of the same demo (e.g. a copy with a sink setting changed).
 * Results: bench/results/daemon.json (with machine and versions); `--out` writes elsewhere.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { resetSinks } from '../scripts/demo/reset.js';
import { DEMO_DB, demoUrl, newStats, resetDatabase, rng, seed, workloadStep, type SeedSize } from '../scripts/demo/shop.js';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    'warmup-seconds': { type: 'string', default: '60' },
    'admin-port': { type: 'string', default: '18099' },
    'node-flags': { type: 'string', default: '' },
    'heap-snapshots': { type: 'string', default: '' },
    'snapshot-dir': { type: 'string', default: join(os.tmpdir(), 'cdc-fanout-bench-heap') },
    config: { type: 'string', default: join(root, 'connectors', 'demo.yaml') },
    out: { type: 'string', default: join(root, 'bench', 'results', 'daemon.json') },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const warmupS = Number(args['warmup-seconds']);
if (!(minutes > 0 && rate > 0 && warmupS >= 0)) {
  console.error('--minutes and --rate must be positive numbers, --warmup-seconds ≥ 0');
  process.exit(2);
}

const nodeFlags = args['node-flags'].split(/\s+/).filter(Boolean);
const snapshotAt = args['heap-snapshots'].split(',').filter(Boolean).map(Number);
if (snapshotAt.some((x) => !(x >= 0))) {
  console.error('--heap-snapshots takes a comma-separated list of seconds');
  process.exit(2);
}
const ep = endpoints();
const SIZE: SeedSize = { customers: 300, products: 60, orders: 400 };

function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface Memory {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}
const MEMORY_METRICS: Record<keyof Memory, string> = {
  heapUsed: 'cdc_fanout_process_nodejs_heap_size_used_bytes',
  heapTotal: 'cdc_fanout_process_nodejs_heap_size_total_bytes',
  external: 'cdc_fanout_process_nodejs_external_memory_bytes',
  arrayBuffers: 'cdc_fanout_process_nodejs_array_buffers_bytes',
};

/** The daemon's own view of its memory (MB), from the admin API's Prometheus text; undefined while it is not up. */
async function daemonMemory(port: string): Promise<Memory | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    const text = await res.text();
    const out: Partial<Memory> = {};
    for (const [k, name] of Object.entries(MEMORY_METRICS) as [keyof Memory, string][]) {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      if (!m) return undefined;
      out[k] = Number(m[1]) / 2 ** 20;
    }
    return out as Memory;
  } catch {
    return undefined;
  }
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

// ClickHouse 18.16 can take longer than the client's 30 s timeout to DROP the previous run's database
// while it still merges its parts; the drop completes server-side, so a retry finds it gone.
const resetUntil = Date.now() + 5 * 60_000;
for (;;) {
  try {
    await resetSinks(ep, 'shop');
    break;
  } catch (e) {
    if (Date.now() > resetUntil) throw e;
    console.error(`[bench:daemon] resetting the demo sinks failed (${(e as Error).message}); retrying in 10 s`);
    await new Promise((res) => setTimeout(res, 10_000));
  }
}
await resetDatabase(ep.postgresUrl, join(root, 'migrations'));
const db = new pg.Client({ connectionString: demoUrl(ep.postgresUrl) });
await db.connect();
await seed(db, SIZE);

if (snapshotAt.length > 0) {
  mkdirSync(args['snapshot-dir'], { recursive: true });
  nodeFlags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${args['snapshot-dir']}`);
}
const daemon = spawn(process.execPath, [...nodeFlags, join(root, 'bin', 'cdc-fanout.js'), 'run', '--config', args.config, '--admin-port', args['admin-port']], {
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

const samples: { t: number; rss: number; mem: Memory | undefined }[] = [];
const pendingSnapshots = [...snapshotAt].sort((a, b) => a - b);
const started = Date.now();
const stats = newStats();
const r = rng(11);
let step = 0;
console.log(`[bench:daemon] ${minutes} min at ~${rate} tx/s; RSS sampled every 5 s (warm-up ${warmupS} s not counted)${nodeFlags.length ? `; daemon node flags: ${nodeFlags.join(' ')}` : ''}`);
const endAt = started + minutes * 60_000;
// Sampling runs on its own timer: the workload loop below can fall behind its rate (each step is a
// Postgres round trip) and must not delay or skip samples.
let sampling = false;
const sample = async (): Promise<void> => {
  if (sampling || exited) return;
  sampling = true;
  try {
    const t = (Date.now() - started) / 1000;
    const rss = rssMB(pid);
    const mem = await daemonMemory(args['admin-port']);
    samples.push({ t, rss, mem });
    if (samples.length % 12 === 0) {
      const m = mem ? `, heap ${mem.heapUsed.toFixed(0)}/${mem.heapTotal.toFixed(0)} MB, external ${mem.external.toFixed(0)} MB (ArrayBuffers ${mem.arrayBuffers.toFixed(0)})` : '';
      console.log(`[bench:daemon] ${t.toFixed(0)} s: RSS ${rss.toFixed(0)} MB${m}, ${stats.transactions} transactions`);
    }
    if (pendingSnapshots.length > 0 && t >= (pendingSnapshots[0] as number)) {
      pendingSnapshots.shift();
      daemon.kill('SIGUSR2');
      console.log(`[bench:daemon] heap snapshot requested at ${t.toFixed(0)} s (written to ${args['snapshot-dir']})`);
    }
  } finally {
    sampling = false;
  }
};
void sample();
const sampler = setInterval(() => void sample(), 5000);
while (Date.now() < endAt && !exited) {
  const due = Math.floor(((Date.now() - started) / 1000) * rate);
  while (step < due && Date.now() < endAt && !exited) await workloadStep(db, r, step++, stats, SIZE);
  await new Promise((res) => setTimeout(res, 5));
}
clearInterval(sampler);
daemon.kill('SIGTERM');
await new Promise((res) => daemon.once('exit', res));
await db.end();
if (exited && Date.now() - started < minutes * 60_000) throw new Error('the daemon died during the run');

const counted = samples.filter((s) => s.t >= warmupS);
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** min / max / mean, spread around the mean and least-squares trend of one series (MB). */
function summarize(points: readonly { t: number; v: number }[]) {
  const vs = points.map((p) => p.v);
  const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
  const min = Math.min(...vs);
  const max = Math.max(...vs);
  return {
    samples: vs.length,
    min: Math.round(min),
    max: Math.round(max),
    mean: Math.round(mean),
    spreadPercent: { below: Math.round(((mean - min) / mean) * 1000) / 10, above: Math.round(((max - mean) / mean) * 1000) / 10 },
    trendMBPerMinute: Math.round(slope(points.map((p) => p.t / 60), vs) * 100) / 100,
  };
}
const withMem = counted.filter((s): s is { t: number; rss: number; mem: Memory } => s.mem !== undefined);
const memSummary = (k: keyof Memory) => summarize(withMem.map((s) => ({ t: s.t, v: s.mem[k] })));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const result = {
  when: new Date().toISOString(),
  machine: { os: `${os.type()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), loadAvg1m: os.loadavg()[0] },
  versions: { node: process.version, 'cdc-fanout': pkg.version },
  config: { minutes, ratePerSecond: rate, warmupSeconds: warmupS, pipeline: `${relative(root, args.config)} (source + elasticsearch + clickhouse + redis)` },
  workload: { transactions: stats.transactions, transactionsPerSecond: Math.round(stats.transactions / ((Date.now() - started) / 1000)) },
  rssMB: summarize(counted.map((s) => ({ t: s.t, v: s.rss }))),
  // The daemon's own memory view (from its /metrics), same window: a growing heapUsed is a JS leak,
  // growing external/arrayBuffers is Buffers, RSS growing with neither is the allocator or V8's heap sizing.
  heapUsedMB: memSummary('heapUsed'),
  heapTotalMB: memSummary('heapTotal'),
  externalMB: memSummary('external'),
  arrayBuffersMB: memSummary('arrayBuffers'),
  nodeFlags,
  seriesColumns: ['seconds', 'rssMB', 'heapUsedMB', 'heapTotalMB', 'externalMB', 'arrayBuffersMB'],
  series: samples.map((s) => [Math.round(s.t), Math.round(s.rss), ...(s.mem ? [round1(s.mem.heapUsed), round1(s.mem.heapTotal), round1(s.mem.external), round1(s.mem.arrayBuffers)] : [])]),
};
// One line per sample keeps the file readable (and its diffs small).
const json = JSON.stringify(result, null, 2).replace(/\[\s+(-?[\d.]+(?:,\s+-?[\d.]+)*)\s+\]/g, (_m, xs: string) => `[${xs.split(/,\s+/).join(', ')}]`);
writeFileSync(args.out, `${json}\n`);
console.log(JSON.stringify({ workload: result.workload, rssMB: result.rssMB, heapUsedMB: result.heapUsedMB, heapTotalMB: result.heapTotalMB, externalMB: result.externalMB, arrayBuffersMB: result.arrayBuffersMB }, null, 2));
console.log(`written ${args.out}`);
