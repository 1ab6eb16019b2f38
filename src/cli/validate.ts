/**
 * `cdc-fanout validate --config <file|dir> [--online] [--json]`: exit 0 when every file is valid (and,
 * with --online, no service check found an error), 1 otherwise, with one located line per problem.
 * --online connects read-only to Postgres, Kafka and every sink (src/config/online.ts) and reports
 * every problem at once; warnings are printed but do not fail.
 */
import type { ComponentReport, Finding } from '../check/online.js';
import { formatError, type ConfigError } from '../config/issues.js';
import { loadConfig, type LoadedPipeline } from '../config/load.js';
import { formatPath, type Location } from '../config/locate.js';
import type { PipelineOnlineReport } from '../config/online.js';

export interface ValidateFlags {
  readonly online?: boolean;
  readonly json?: boolean;
  /** --online: bound of each connection and request, ms. */
  readonly timeoutMs?: number;
}

type Out = (line: string) => void;

interface JsonFinding {
  readonly severity: Finding['severity'];
  readonly component: string;
  readonly path: string | null;
  readonly line: number | null;
  readonly column: number | null;
  readonly message: string;
  readonly fix: string | null;
}

function locateFinding(p: LoadedPipeline, f: Finding): Location | undefined {
  if (!f.path || !p.at) return undefined;
  // The deepest written part of the path (a default value has no line of its own).
  for (let n = f.path.length; n > 0; n--) {
    const loc = p.at(f.path.slice(0, n));
    if (loc) return loc;
  }
  return undefined;
}

export function formatFinding(file: string, component: string, f: Finding, loc: Location | undefined): string {
  const where = loc ? `:${loc.line}:${loc.col}` : '';
  return `${file}${where}: ${f.severity}: [${component}] ${f.path ? `${formatPath(f.path)}: ` : ''}${f.message}${f.fix ? ` Fix: ${f.fix}` : ''}`;
}

function statusLine(c: ComponentReport): string {
  const errors = c.findings.filter((f) => f.severity === 'error').length;
  const warnings = c.findings.length - errors;
  const state = c.version === null && c.target ? 'FAILED' : errors ? 'ERRORS' : warnings ? 'WARNINGS' : 'ok';
  const what = [c.version, c.target ? `at ${c.target}` : ''].filter(Boolean).join(' ');
  const counts = errors || warnings ? ` (${[errors ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ')})` : '';
  return `  ${c.component}: ${state}${counts}${what ? ` — ${what}` : ''}${c.notes.length ? `; ${c.notes.join('; ')}` : ''}`;
}

export async function validateCommand(target: string, flags: ValidateFlags = {}, out: Out = (l) => process.stdout.write(`${l}\n`), err: Out = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const r = await loadConfig(target);
  const staticErrors: ConfigError[] = r.errors;
  const reports: { p: LoadedPipeline; report: PipelineOnlineReport }[] = [];
  if (flags.online && r.pipelines.length) {
    const { checkPipelineOnline } = await import('../config/online.js');
    // Pipelines one after another (their output stays in file order); components in parallel inside.
    for (const p of r.pipelines) reports.push({ p, report: await checkPipelineOnline(p, { timeoutMs: flags.timeoutMs }) });
  }
  const findings = reports.flatMap(({ p, report }) => report.components.flatMap((c) => c.findings.map((f) => ({ p, c, f, loc: locateFinding(p, f) }))));
  const onlineErrors = findings.filter((x) => x.f.severity === 'error').length;
  const warnings = findings.length - onlineErrors;
  const errors = staticErrors.length + onlineErrors;

  if (flags.json) {
    const json = {
      ok: errors === 0,
      errors,
      warnings,
      online: flags.online === true,
      configErrors: staticErrors.map((e) => ({ file: e.file, line: e.location?.line ?? null, column: e.location?.col ?? null, path: e.path || null, message: e.message })),
      pipelines: r.pipelines.map((p) => {
        const rep = reports.find((x) => x.p === p)?.report;
        return {
          file: p.file,
          pipeline: p.config.name,
          sinks: p.config.sinks.length,
          ...(rep
            ? {
                components: rep.components.map((c) => ({
                  component: c.component,
                  target: c.target,
                  version: c.version,
                  notes: c.notes,
                  findings: c.findings.map((f): JsonFinding => {
                    const loc = locateFinding(p, f);
                    return { severity: f.severity, component: c.component, path: f.path ? formatPath(f.path) : null, line: loc?.line ?? null, column: loc?.col ?? null, message: f.message, fix: f.fix ?? null };
                  }),
                })),
              }
            : {}),
        };
      }),
    };
    out(JSON.stringify(json, null, 2));
    return errors ? 1 : 0;
  }

  for (const e of staticErrors) err(formatError(e));
  for (const p of r.pipelines) {
    const rep = reports.find((x) => x.p === p)?.report;
    out(`${p.file}: pipeline "${p.config.name}" ${rep ? 'checked online' : 'ok'} (${p.config.sinks.length} sink${p.config.sinks.length === 1 ? '' : 's'})`);
    if (rep) for (const c of rep.components) out(statusLine(c));
  }
  for (const x of findings) err(formatFinding(x.p.file, x.c.component, x.f, x.loc));
  if (errors || warnings) {
    const parts = [errors ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(Boolean);
    err(parts.join(', '));
  }
  return errors ? 1 : 0;
}
