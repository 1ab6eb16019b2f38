/**
 * npm run stack:up [-- --clean] [-- <service>...]  start (installing on first run) and wait for health
 * npm run stack:down [-- <service>...]             stop every process stack:up started
 * npm run stack:status [-- --json]                 health of each service; exit 1 if any is unhealthy
 *
 * Services run natively (no Docker engine): see stack/pom.xml and scripts/stack/<service>.ts.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { services } from './services.js';
import { StackError, type Service } from './service.js';
import { shown } from './paths.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { clean: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
});
const [command, ...names] = positionals;

function pick(): Service[] {
  if (names.length === 0) return services;
  const unknown = names.filter((n) => !services.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`stack: unknown service(s) ${unknown.join(', ')}; known: ${services.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  return services.filter((s) => names.includes(s.name));
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
  console.error('usage: tsx scripts/stack/cli.ts up [--clean] | down | status [--json]   [service...]');
  process.exit(2);
}
process.exitCode = await run();
