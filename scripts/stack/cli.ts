/**
 * npm run stack:up [-- --clean] [-- <service>...]  start (installing on first run) and wait for health
 * npm run stack:up -- --pg 17[,18]                 also run extra PostgreSQL versions (scripts/stack/pg-extra.ts)
 * npm run stack:down [-- <service>...]             stop every process stack:up started
 * npm run stack:status [-- --json]                 health of each service; exit 1 if any is unhealthy
 *
 * Services run natively (no Docker engine): see stack/pom.xml and scripts/stack/<service>.ts.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { extraPostgres, extraPostgresPresent } from './pg-extra.js';
import { services } from './services.js';
import { StackError, type Service } from './service.js';
import { shown } from './paths.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { clean: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, pg: { type: 'string' } },
});
const [command, ...names] = positionals;

/** The stack's services plus extra Postgres versions: the ones named by --pg, and the ones with a data dir. */
function all(): Service[] {
  let extra: Service[];
  try {
    const asked = (values.pg ?? '').split(',').map((v) => v.trim()).filter(Boolean).map(extraPostgres);
    extra = [...asked, ...extraPostgresPresent().filter((p) => !asked.some((a) => a.name === p.name))];
  } catch (err) {
    console.error(`stack: ${(err as Error).message}`);
    process.exit(2);
  }
  // stack:up starts the stack's own services and the versions --pg names; down also sees every
  // extra version that has a data dir (started by an earlier `stack:up --pg`), status the running ones.
  const named = (e: Service): boolean => (values.pg ?? '').split(',').some((v) => v.trim() !== '' && extraPostgres(v.trim()).name === e.name);
  if (command === 'up') return [...services, ...extra.filter(named)];
  // status: a stopped extra version is not unhealthy stack (unless --pg asks about it).
  if (command === 'status') return [...services, ...extra.filter((e) => named(e) || e.ownedPid() !== undefined)];
  return [...services, ...extra];
}

function pick(): Service[] {
  const known = all();
  if (names.length === 0) return known;
  const unknown = names.filter((n) => !known.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`stack: unknown service(s) ${unknown.join(', ')}; known: ${known.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  // --pg names extra versions explicitly: they come along with the named services.
  const asked = command === 'up' ? known.filter((s) => !services.includes(s)) : [];
  return known.filter((s) => names.includes(s.name) || asked.includes(s));
}

async function up(): Promise<number> {
  const t0 = Date.now();
  const chosen = pick();
  for (const s of chosen) {
    try {
      await s.install();
    } catch (err) {
      console.error(`\nstack:up FAILED — installing ${s.name}: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }
  // Start everything at once (the JVMs take the longest); report per service as each settles.
  const results = await Promise.allSettled(
    chosen.map(async (s) => {
      const t = Date.now();
      const note = await s.up({ clean: values.clean });
      console.log(`stack: ${s.name.padEnd(13)} ${note} — ${s.endpoint} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
    }),
  );
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  for (const err of failed) {
    console.error(`\nstack:up FAILED — ${err instanceof StackError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (failed.length > 0) return 1;
  console.log(`stack: all ${chosen.length} service(s) healthy in ${secs}s`);
  return 0;
}

async function down(): Promise<number> {
  // Reverse order; the JVMs flush on SIGTERM, so stop them together to keep this quick.
  const results = await Promise.allSettled(
    [...pick()].reverse().map(async (s) => console.log(`stack: ${s.name.padEnd(13)} ${await s.down()}`)),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  for (const f of failed) console.error(`stack:down: ${String((f as PromiseRejectedResult).reason)}`);
  return failed.length > 0 ? 1 : 0;
}

async function status(): Promise<number> {
  const rows = await Promise.all(
    pick().map(async (s) => {
      const h = await s.health();
      const pid = s.ownedPid();
      const rssMiB = pid !== undefined ? rss(pid) : undefined;
      return {
        service: s.name,
        healthy: h.healthy,
        endpoint: s.endpoint,
        owner: pid !== undefined ? `pid ${pid}` : h.healthy ? 'external' : '-',
        rssMiB,
        detail: h.detail,
        log: shown(s.logFile),
      };
    }),
  );
  if (values.json) console.log(JSON.stringify(rows, null, 2));
  else
    for (const r of rows)
      console.log(
        `${r.service.padEnd(13)} ${(r.healthy ? 'healthy' : 'UNHEALTHY').padEnd(9)} ${r.endpoint.padEnd(24)} ${r.owner.padEnd(10)} ${(r.rssMiB !== undefined ? `${r.rssMiB} MiB` : '').padEnd(9)} ${r.detail}${r.healthy ? '' : `  (log: ${r.log})`}`,
      );
  return rows.every((r) => r.healthy) ? 0 : 1;
}

/** Resident memory of a process in MiB (from /proc), for status and the memory budget. */
function rss(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

const commands: Record<string, () => Promise<number>> = { up, down, status };
const run = command !== undefined ? commands[command] : undefined;
if (run === undefined) {
  console.error('usage: tsx scripts/stack/cli.ts up [--clean] [--pg 17,18] | down | status [--json]   [service...]');
  process.exit(2);
}
process.exitCode = await run();
