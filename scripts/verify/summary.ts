/** The readable summary of a verify report (printed, and written next to the JSON). */
import { TABLES } from './load.js';
import type { SinkTableCheck } from './checker.js';
import { replayCommand, type VerifyReport } from './run.js';

function cell(s: SinkTableCheck): string {
  const bad = s.missing + s.extra + s.stale + s.duplicated;
  return bad === 0 ? `${s.rows} ✓` : `${s.rows} ✗ (missing ${s.missing}, extra ${s.extra}, stale ${s.stale}, dup ${s.duplicated})`;
}

export function summary(r: VerifyReport): string {
  const lines: string[] = [];
  const byKind = new Map<string, number>();
  for (const f of r.faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(`cdc-fanout verify — seed ${r.seed} (replay: ${replayCommand(r.options)}), run ${r.id}, ${r.startedAt}, ${r.durationS} s`);
  lines.push(`faults: ${r.faults.length} — ${[...byKind].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  const l = r.load;
  lines.push(`load: ${l.transactions} transactions, ${l.expectedChangeEvents} change events (${l.inserts} inserts, ${l.updates} updates of which ${l.toastUnchangedUpdates} left the TOASTed body unchanged, ${l.pkUpdates} primary-key updates, ${l.deletes} deletes)`);
  lines.push(`daemon: ${r.daemon.starts} starts, ${r.daemon.unexpectedExits} unexpected exits; ${r.sinks.ok ? 'caught up' : 'gave up waiting (nothing changed for 90 s or timeout)'} ${r.catchUpS} s after the load stopped`);
  lines.push('table          postgres   elasticsearch            clickhouse (FINAL)');
  for (const t of TABLES) lines.push(`${t.padEnd(14)} ${String(r.sinks.postgres[t]).padStart(8)}   ${cell(r.sinks.elasticsearch[t]).padEnd(24)} ${cell(r.sinks.clickhouse[t])}`);
  lines.push(`redis          write-through items ${cell(r.sinks.redisWriteThrough)}; invalidation: ${r.sinks.redisInvalidation.checked - r.sinks.redisInvalidation.stillCached}/${r.sinks.redisInvalidation.checked} changed-row keys gone`);
  const k = r.kafka;
  lines.push(`kafka (read_committed): ${k.records} records (${Object.entries(k.byOp).map(([op, n]) => `${op} ${n}`).join(', ')}, tombstones ${k.tombstones}); duplicate positions ${k.duplicates}; change events missing ${k.missingChangeEvents}${k.withoutPosition ? `; ${k.withoutPosition} without position headers` : ''}`);
  if (r.ha) {
    const ms = r.ha.takeovers.map((t) => t.takeoverMs).filter((x): x is number => x !== null);
    lines.push(
      `ha: ${r.ha.takeovers.length} takeovers (${r.ha.takeovers.map((t) => `${t.killed}→${t.tookOverBy}`).join(', ')}); takeover after kill -9 ${ms.length ? `${Math.min(...ms)}–${Math.max(...ms)} ms` : 'never'}` +
        `${ms.length < r.ha.takeovers.length ? ` (${r.ha.takeovers.length - ms.length} NOT within 120 s)` : ''}; restarted daemon STANDBY ${r.ha.takeovers.filter((t) => t.standbyMs !== null).length}/${r.ha.takeovers.length}; ` +
        `source FAILED logged: ${Object.entries(r.ha.sourceFailures).map(([d, n]) => `${d} ${n}`).join(', ')}`,
    );
  }
  for (const e of r.examples.slice(0, 15)) lines.push(`  ! ${e}`);
  lines.push(`${r.ok ? 'PASS' : 'FAIL'}: lost ${r.lost}, duplicated ${r.duplicated}, stale ${r.stale}`);
  return lines.join('\n');
}
