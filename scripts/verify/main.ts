/**
 * npm run verify [-- options]: the fault-verification run (scripts/verify/run.ts). Faults: kill -9 of
 * the daemon, kill (SIGKILL/SIGTERM) + restart of Elasticsearch, ClickHouse and Redis, Kafka frozen
 * with SIGSTOP/SIGCONT, a sink's TCP connections cut. Prints the seed and a summary; writes
 * bench/results/verify-<date>.json (+ .txt). Exit code 0 only with 0 lost, 0 duplicated, 0 stale.
 *
 *   --seed N            replay a schedule (default: random, printed)
 *   --faults N          number of faults (default 30)
 *   --kinds a,b         fault kinds (default: all; see faults.ts)
 *   --private           run on a second stack the run owns: .stack-verify/ on ports 19092/19093 (Kafka),
 *                       19200/19300 (ES), 18124/19001 (ClickHouse), 16380 (Redis); system Postgres.
 *                       Without it the endpoints come from the usual CDC_* env vars (default stack);
 *                       service faults need services started by `npm run stack:up` (they are killed!).
 *   --rate N            load, transactions per second (default 20)
 *   --seed-rows N       rows per table before the daemon starts (default 300)
 *   --gap MIN-MAX       seconds between faults (default 4-12)
 *   --report FILE       report path (default bench/results/verify-<date>.json)
 *   --keep              keep the database, topics, indices and keys afterwards
 *   --ha                two daemons with the same config (daemon HA): daemon-kill kills -9 the one
 *                       running the source (so kills alternate); reports takeover times (docs/ha.md)
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './faults.js';

const ROOT = join(import.meta.dirname, '..', '..');

function fail(msg: string): never {
  console.error(`verify: ${msg}`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string' },
    faults: { type: 'string', default: '30' },
    kinds: { type: 'string', default: FAULT_KINDS.join(',') },
    private: { type: 'boolean', default: false },
    rate: { type: 'string', default: '20' },
    'seed-rows': { type: 'string', default: '300' },
    gap: { type: 'string', default: '4-12' },
    report: { type: 'string' },
    'catch-up-timeout': { type: 'string', default: '600' },
    keep: { type: 'boolean', default: false },
    ha: { type: 'boolean', default: false },
  },
});

const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const seed = a.seed !== undefined ? Number(a.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) fail(`--seed must be an integer in [0, 2^32), got "${a.seed}"`);
const kinds = a.kinds.split(',').map((k) => k.trim()).filter(Boolean);
const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
if (unknown.length > 0 || kinds.length === 0) fail(`--kinds: unknown ${unknown.join(', ') || '(none given)'}; known: ${FAULT_KINDS.join(', ')}`);
const gap = /^(\d+)-(\d+)$/.exec(a.gap);
if (!gap || Number(gap[1]) > Number(gap[2])) fail(`--gap must be MIN-MAX seconds, e.g. 4-12, got "${a.gap}"`);

if (a.private) {
  const set = (k: string, v: string): void => {
    process.env[k] ??= v;
  };
  set('CDC_STACK_DIR', join(ROOT, '.stack-verify'));
  set('CDC_KAFKA_BROKERS', '127.0.0.1:19092');
  set('CDC_KAFKA_CONTROLLER_PORT', '19093');
  set('CDC_ES_URL', 'http://127.0.0.1:19200');
  set('CDC_ES_TRANSPORT_PORT', '19300');
  set('CDC_CLICKHOUSE_URL', 'http://127.0.0.1:18124');
  set('CDC_CLICKHOUSE_TCP_PORT', '19001');
  set('CDC_REDIS_URL', 'redis://127.0.0.1:16380/0');
}

// Imported after the env is final: the stack modules read CDC_STACK_DIR when loaded.
const { endpoints } = await import('../stack/endpoints.js');
const { services } = await import('../stack/services.js');
const { runVerify } = await import('./run.js');
const { summary } = await import('./summary.js');

const byName = (n: string) => {
  const s = services.find((x) => x.name === n);
  if (!s) throw new Error(`no stack service ${n}`);
  return s;
};
console.log(`verify: bringing up the stack${a.private ? ` in ${process.env.CDC_STACK_DIR}` : ''} (idempotent)…`);
for (const s of services) {
  await s.install();
  console.log(`verify: ${s.name.padEnd(13)} ${await s.up({ clean: false })} — ${s.endpoint}`);
}

for (const k of kinds) {
  const svc = k === 'kafka-freeze' ? 'kafka' : k.endsWith('-kill') && k !== 'daemon-kill' ? k.replace('-kill', '') : undefined;
  if (svc !== undefined && byName(svc).ownedPid() === undefined) {
    fail(`fault ${k} needs a ${svc} started by the stack scripts (this one is external or not running: ${byName(svc).endpoint}); use --private, or leave it out with --kinds`);
  }
}

// Ctrl-C / SIGTERM: stop at the next step and still remove the run's slot, database, topics, …
const abort = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`verify: ${sig}: stopping and cleaning up (again to exit at once)`);
    abort.abort(new Error(`interrupted by ${sig}`));
    process.once(sig, () => process.exit(130));
  });
}

const report = await runVerify({
  signal: abort.signal,
  seed,
  faults: positive('faults', a.faults),
  kinds: kinds as FaultKind[],
  gapMs: [Number(gap[1]) * 1000, Number(gap[2]) * 1000],
  seedRows: positive('seed-rows', a['seed-rows']),
  txPerSec: positive('rate', a.rate),
  endpoints: endpoints(),
  services: { pid: (n) => byName(n).ownedPid(), up: (n) => byName(n).up({ clean: false }) },
  catchUpTimeoutMs: positive('catch-up-timeout', a['catch-up-timeout']) * 1000,
  keep: a.keep,
  ha: a.ha,
  log: (m) => console.log(m),
});
const text = summary(report);
const file = resolve(a.report ?? join(ROOT, 'bench', 'results', `verify-${report.startedAt.slice(0, 10)}.json`));
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify({ ...report, summary: text.split('\n') }, null, 2)}\n`);
writeFileSync(file.replace(/\.json$/, '') + '.txt', `${text}\n`);
console.log(`\n${text}\nreport: ${file}`);
process.exit(report.ok ? 0 : 1);
