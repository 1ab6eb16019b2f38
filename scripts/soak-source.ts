/**
 * Soak / long crash test for the source (the CI test runs 5 cycles): kill -9 the source child
 * process N times (default 25) at random moments under a concurrent write load, restart it each
 * time, then reconcile Kafka against the committed PG changes. Exit code 1 on any loss, duplicate
 * or reordering.
 *
 *   npx tsx scripts/soak-source.ts [cycles=25] [seedRows=20000]
 *
 * Needs the stack (Postgres + Kafka): npm run stack:up. Child logs go to $TMPDIR/cdc-fanout-crash-logs.
 */
import { runCrashCycles } from '../test/source/crash-harness.js';

const cycles = Number(process.argv[2] ?? 25);
const seedRows = Number(process.argv[3] ?? 20000);
const started = Date.now();
const r = await runCrashCycles({ cycles, seedRows, minKillMs: 100, maxKillMs: 4000, log: (m) => console.log(m) });
console.log(JSON.stringify({ ...r, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
process.exit(r.lost === 0 && r.duplicated === 0 && r.outOfOrder === 0 && r.snapshotReads === seedRows && r.problems.length === 0 ? 0 : 1);
