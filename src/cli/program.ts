/** The `cdc-fanout` command tree (commander): run the daemon, validate configs, query and steer a running daemon. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { applyDaemonHeapFlags } from './heap.js';
import type { DlqFlags } from './dlq.js';
import type { RebuildFlags } from './rebuild.js';
import { USAGE_ERROR } from './exit-codes.js';
import type { ResetFlags } from './reset-offsets.js';
import type { RunFlags } from './run.js';
import type { StatusFlags } from './status.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; description: string };

function positiveInt(v: string): number {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, e.g. 30000, got "${v}"`);
  return n;
}

function nonNegativeInt(v: string): number {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, e.g. 1000, got "${v}"`);
  return n;
}

function port(v: string): number {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port number 0-65535 (0 = any free port), e.g. 8083, got "${v}"`);
  return n;
}

function httpUrl(v: string): string {
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return v;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(`expected an http(s) URL, e.g. http://127.0.0.1:8083, got "${v}"`);
}

/** An env var default for a flag, checked like the flag itself (the message names the variable). */
function envDefault<T>(env: NodeJS.ProcessEnv, name: string, parse: (v: string) => T, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`environment variable ${name}: ${(err as Error).message}`);
  }
}

const help = (examples: readonly string[], exitCodes: string): string => `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n\nExit codes: ${exitCodes}\n`;

const ADMIN_HELP = 'admin API base URL of the daemon (env CDC_ADMIN_URL); default: from the record of the daemon running --config, else http://127.0.0.1:8083';

/** `env` supplies the flag defaults (the docs generator passes {} so they are the built-in ones). */
export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('cdc-fanout')
    .description(pkg.description)
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(add --help for usage and examples)')
    // Inherited by every subcommand: usage errors exit 2, distinct from a command's own failure (1).
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? err.exitCode : USAGE_ERROR);
    })
    .addHelpText(
      'after',
      help(
        ['cdc-fanout validate -c connectors/demo.yaml', 'cdc-fanout run -c connectors/demo.yaml', 'cdc-fanout status', 'cdc-fanout <command> --help'],
        `0 success; 1 the command failed (its message says why); ${USAGE_ERROR} usage error (unknown option, missing or invalid argument).`,
      ),
    );
  let adminPort: number;
  try {
    adminPort = envDefault(env, 'CDC_ADMIN_PORT', port, 8083);
  } catch (err) {
    // Reported when `run` is used; other commands do not need it.
    adminPort = 8083;
    program.hook('preAction', (_p, action) => {
      if (action.name() === 'run') program.error(`error: ${(err as Error).message}`, { exitCode: USAGE_ERROR });
    });
  }

  const validateExit = `0 every file is valid (run would start with it) and, with --online, no service check found an error (warnings do not fail); 1 errors: one "file:line:column: field: message" line each on stderr (--online: "file:line:column: error|warning: [component] field: message Fix: ..."); ${USAGE_ERROR} usage error.`;
  const validateAction = (online: boolean) => async (opts: { config: string; online?: boolean; json?: boolean; timeout: number }) => {
    const { validateCommand } = await import('./validate.js');
    // Exit explicitly after an online check: a client library's timer must not keep the process alive.
    const code = await validateCommand(opts.config, { online: online || opts.online === true, json: opts.json === true, timeoutMs: opts.timeout });
    if (online || opts.online) process.exit(code);
    process.exitCode = code;
  };
  program
    .command('validate')
    .description('Validate pipeline config files; prints one located line per error (exit 0 valid, 1 invalid). --online also checks the services')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .option('--online', 'also connect (read-only) to Postgres, Kafka and every sink and report every problem found there: tables, keys, privileges, slot, publication, topics, sink columns, server versions')
    .option('--json', 'print the result as JSON on stdout')
    .option('--timeout <ms>', '--online: longest wait for each connection or request', positiveInt, 5000)
    .addHelpText(
      'after',
      help(
        [
          'cdc-fanout validate -c connectors/demo.yaml',
          'cdc-fanout validate -c connectors/      # every file, plus conflicts between them',
          'cdc-fanout validate -c connectors/demo.yaml --online --timeout 3000',
          'cdc-fanout validate -c connectors/demo.yaml --online --json   # the same as JSON on stdout',
        ],
        validateExit,
      ),
    )
    .action(validateAction(false));

  program
    .command('check')
    .description('Same as validate --online: check the config files and every service they name (read-only)')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .option('--json', 'print the result as JSON on stdout')
    .option('--timeout <ms>', 'longest wait for each connection or request', positiveInt, 5000)
    .addHelpText('after', help(['cdc-fanout check -c connectors/demo.yaml', 'cdc-fanout check -c connectors/ --json'], validateExit))
    .action(validateAction(true));

  program
    .command('run')
    .description('Run the daemon: every pipeline in the config files, plus the admin HTTP server')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .option('--admin-host <host>', 'admin server bind address (env CDC_ADMIN_HOST)', env.CDC_ADMIN_HOST ?? '127.0.0.1')
    .option('--admin-port <port>', 'admin server port, 0 = any free port (env CDC_ADMIN_PORT)', port, adminPort)
    .option('--admin-token-file <path>', 'file holding a bearer token required on every admin request except /health (env CDC_ADMIN_TOKEN for the token itself)')
    .option('--tls-cert <path>', 'PEM certificate: serve the admin API over HTTPS (with --tls-key)')
    .option('--tls-key <path>', 'PEM private key for --tls-cert')
    .option('--shutdown-timeout-ms <ms>', 'longest graceful shutdown on SIGTERM/SIGINT before forcing exit', positiveInt, 30000)
    .option('--no-admin', 'do not start the admin server')
    .addOption(
      new Option(
        '--role <role>',
        'what this daemon runs of each pipeline: all (source and sinks), source (PG → Kafka only), sinks (Kafka → sinks only; needs no replication access). Run a source daemon and one or more sinks daemons to give the source a process (a core) of its own, or sink workers on other machines (consumer groups share the partitions)',
      )
        .choices(['all', 'source', 'sinks'])
        .default('all'),
    )
    .option(
      '--take-over-slot <pipeline>',
      "let this pipeline take over its existing replication slot although it has no ownership record for it (same as slot.takeover: true; repeatable). Only when the slot's previous owner is gone for good",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      help(
        ['cdc-fanout run -c connectors/demo.yaml', 'cdc-fanout run -c connectors/ --admin-port 9000 --admin-token-file admin.token', 'cdc-fanout run -c connectors/demo.yaml --take-over-slot demo', 'cdc-fanout run -c connectors/demo.yaml --role source', 'cdc-fanout run -c connectors/demo.yaml --role sinks --admin-port 8084'],
        `0 stopped cleanly after SIGTERM/SIGINT; 1 config errors, failed start or unclean stop; ${USAGE_ERROR} usage error; 130 a second signal forced the exit.`,
      ),
    )
    .action(async (opts: RunFlags) => {
      // The daemon chooses its V8 heap sizing itself (src/cli/heap.ts): re-executes once if needed.
      applyDaemonHeapFlags();
      const { runCommand } = await import('./run.js');
      // Exit explicitly: a client library timer must not keep a stopped daemon alive.
      process.exit(await runCommand(opts));
    });

  program
    .command('status')
    .description('Show the state of a running daemon (from its admin API)')
    .option('--admin <url>', ADMIN_HELP, httpUrl)
    .option('--admin-url <url>', 'same as --admin', httpUrl)
    .option('-c, --config <file|dir>', 'the config the daemon was started with (finds its admin address)')
    .option('--token <token>', 'bearer token (env CDC_ADMIN_TOKEN)', env.CDC_ADMIN_TOKEN)
    .option('--json', 'print the raw JSON')
    .option('--max-lag <records>', 'exit 2 when a sink is more than this many records behind (or its lag is unknown)', nonNegativeInt)
    .option('--max-lag-ms <ms>', "exit 2 when a sink's oldest unapplied event is older than this (or unknown)", nonNegativeInt)
    .addHelpText(
      'after',
      help(
        ['cdc-fanout status -c connectors/demo.yaml', 'cdc-fanout status --admin http://10.0.0.5:8083 --json', 'cdc-fanout status -c connectors/demo.yaml --max-lag 10000 --max-lag-ms 60000'],
        `0 every component RUNNING, PAUSED or STANDBY (and within --max-lag/--max-lag-ms); 1 the daemon could not be asked; ${USAGE_ERROR} usage error, or a component is not RUNNING/PAUSED/STANDBY (FAILED, STARTING, RESTARTING, STOPPED) or past a lag threshold.`,
      ),
    )
    .action(async (opts: StatusFlags) => {
      const { statusCommand } = await import('./status.js');
      process.exitCode = await statusCommand(opts);
    });

  program
    .command('snapshot')
    .description('Start, pause, resume or stop a snapshot while streaming continues (incremental by default; Debezium-style signal table). Progress: cdc-fanout status')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
    .option('-t, --tables <list>', 'comma-separated schema.table list (default: every captured table)')
    .option('-w, --where <table=filter>', 'additional condition: only rows of schema.table matching the SQL filter (repeatable), e.g. "public.orders=status = \'open\'"', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(new Option('--type <type>', 'incremental: watermark chunks while streaming, resumable; blocking: one pass in a snapshot of its own on a temporary slot').choices(['incremental', 'blocking']).default('incremental'))
    .option('--pause', 'pause the running incremental snapshot (at a chunk boundary)')
    .option('--resume', 'resume the paused incremental snapshot')
    .option('--stop', 'stop the running incremental snapshot (with --tables: remove only those tables from it)')
    .option('--admin <url>', `${ADMIN_HELP}; the request is refused when no daemon answers (a signal is only picked up by a running daemon)`, httpUrl)
    .addHelpText(
      'after',
      help(
        [
          'cdc-fanout snapshot shop -c connectors/demo.yaml',
          'cdc-fanout snapshot shop -c connectors/demo.yaml --tables public.products,public.orders',
          "cdc-fanout snapshot shop -c connectors/demo.yaml --tables public.orders --where \"public.orders=created_at > now() - interval '7 days'\"",
          'cdc-fanout snapshot shop -c connectors/demo.yaml --pause',
        ],
        `0 the request was written to the signal table; 1 config error, no daemon answers, table not captured, bad filter or database error; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: { config: string; tables?: string; where?: string[]; type: 'incremental' | 'blocking'; pause?: boolean; resume?: boolean; stop?: boolean; admin?: string }) => {
      const { snapshotCommand } = await import('./snapshot.js');
      process.exitCode = await snapshotCommand(pipeline, opts);
    });

  program
    .command('reset-offsets')
    .description('Move a sink\'s stored offsets to the earliest or latest Kafka offsets, or to a point in time, backwards or forwards (daemon must be stopped)')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
    .requiredOption('-s, --sink <name>', 'sink name')
    .addOption(new Option('--to <where>', 'where to move the offsets: earliest, latest, or an ISO-8601 time with a zone (e.g. 2026-11-30T12:00:00Z) — the first offset whose timestamp is at or after it (the end for partitions with nothing that late)').makeOptionMandatory())
    .option('--admin <url>', `${ADMIN_HELP}; used to check that no daemon is running`, httpUrl)
    .option('--admin-url <url>', 'same as --admin', httpUrl)
    .option('--yes', 'confirm: without it nothing is changed')
    .addHelpText(
      'after',
      help(
        ['cdc-fanout reset-offsets shop -c connectors/demo.yaml --sink search --to earliest        # prints the plan only', 'cdc-fanout reset-offsets shop -c connectors/demo.yaml --sink search --to earliest --yes', 'cdc-fanout reset-offsets shop -c connectors/demo.yaml --sink search --to 2026-11-30T12:00:00Z --yes'],
        `0 offsets reset (or nothing to reset); 1 refused (no --yes, a daemon is running, the group has live members) or failed; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: ResetFlags) => {
      const { resetOffsetsCommand } = await import('./reset-offsets.js');
      process.exitCode = await resetOffsetsCommand(pipeline, opts);
    });

  program
    .command('rebuild')
    .description("Rebuild a sink into a new generation from the log while the live one keeps serving, then swap atomically (docs/rebuild.md)")
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
    .requiredOption('-s, --sink <name>', 'sink name')
    .addOption(new Option('--from <where>', 'what the new generation is built from: log (offset 0 of the topics) or snapshot (a fresh incremental snapshot through the signal table; needs the daemon running)').choices(['log', 'snapshot']).default('log'))
    .option('-t, --tables <list>', "comma-separated schema.table list (default: every table of the sink)")
    .option('--grace <ms>', 'keep the previous generation this long after the swap before dropping it', nonNegativeInt, 600_000)
    .option('--plan', 'only print the generation the rebuild would build (or resume) and how its targets are named; changes nothing')
    .addHelpText(
      'after',
      help(
        ['cdc-fanout rebuild shop -c connectors/demo.yaml --sink search', 'cdc-fanout rebuild shop -c connectors/demo.yaml --sink search --tables public.orders --grace 0', 'cdc-fanout rebuild shop -c connectors/demo.yaml --sink search --from snapshot'],
        `0 the new generation is live (and the previous one dropped); 1 config error, unsupported sink type, --from snapshot without a signal table, or the rebuild failed (run it again: it resumes); ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: RebuildFlags) => {
      const { rebuildCommand } = await import('./rebuild.js');
      process.exitCode = await rebuildCommand(pipeline, opts);
    });

  const dlq = program
    .command('dlq')
    .description("Inspect and replay a sink's dead-letter topic (errors.tolerance: dlq); see docs/dlq.md")
    .addHelpText(
      'after',
      help(
        ['cdc-fanout dlq list shop -c connectors/demo.yaml --sink search', 'cdc-fanout dlq replay shop -c connectors/demo.yaml --sink search --dry-run', 'cdc-fanout dlq replay shop -c connectors/demo.yaml --sink search --table public.orders'],
        `see the subcommands' help.`,
      ),
    );
  const dlqCommon = (c: Command): Command =>
    c
      .argument('<pipeline>', 'pipeline name')
      .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
      .requiredOption('-s, --sink <name>', 'sink name (its errors.tolerance must be dlq)')
      .option('-t, --table <schema.table>', 'only records of this table')
      .option('--json', 'print the raw JSON');
  dlqCommon(dlq.command('list'))
    .description("Summarize a sink's dead-letter topic: records per table, how many are not replayed yet, the most frequent errors (reads only)")
    .addHelpText(
      'after',
      help(
        ['cdc-fanout dlq list shop -c connectors/demo.yaml --sink search', 'cdc-fanout dlq list shop -c connectors/demo.yaml --sink search --table public.orders --json'],
        `0 listed; 1 config error, unknown pipeline/sink/table, the sink has no DLQ (errors.tolerance is not dlq), or Kafka/the sink store could not be read; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: DlqFlags) => {
      const { dlqListCommand } = await import('./dlq.js');
      process.exitCode = await dlqListCommand(pipeline, opts);
      process.exit();
    });
  dlqCommon(dlq.command('replay'))
    .description(
      "Re-apply a sink's dead-lettered records after fixing the cause, exactly once: a record older than what the sink holds for its row is skipped as stale, one that fails again goes back to the DLQ. The running daemon applies it when one runs the config; otherwise this process does",
    )
    .option('--dry-run', 'count what a replay would read, per table; change nothing')
    .option('--admin <url>', `${ADMIN_HELP}; when a daemon answers, it applies the replay`, httpUrl)
    .option('--admin-url <url>', 'same as --admin', httpUrl)
    .option('--token <token>', 'bearer token of the admin API (env CDC_ADMIN_TOKEN)', env.CDC_ADMIN_TOKEN)
    .addHelpText(
      'after',
      help(
        [
          'cdc-fanout dlq replay shop -c connectors/demo.yaml --sink search --dry-run',
          'cdc-fanout dlq replay shop -c connectors/demo.yaml --sink search',
          'cdc-fanout dlq replay shop -c connectors/demo.yaml --sink search --table public.orders   # the other tables stay dead-lettered',
        ],
        `0 replayed (nothing failed again), or nothing to replay; 1 config error, unknown pipeline/sink/table, no DLQ configured, daemon recorded but unreachable, a replay of the sink already running, or the replay failed/was interrupted (rerun continues); ${USAGE_ERROR} usage error; 3 replayed, but some records failed again and are back in the DLQ (listed).`,
      ),
    )
    .action(async (pipeline: string, opts: DlqFlags) => {
      const { dlqReplayCommand } = await import('./dlq.js');
      process.exitCode = await dlqReplayCommand(pipeline, opts);
      // Exit explicitly: a client library timer must not keep the command alive.
      process.exit();
    });

  return program;
}
