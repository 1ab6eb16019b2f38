/** The `cdc-fanout` command tree (commander): run the daemon, validate configs, query and steer a running daemon. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { StatusFlags } from './status.js';
import { validateCommand } from './validate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; description: string };

/** Exit code of a command-line usage error (unknown option, missing or invalid argument). */
export const USAGE_ERROR = 2;

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

  program
    .command('validate')
    .description('Validate pipeline config files; prints one located line per error (exit 0 valid, 1 invalid)')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .addHelpText(
      'after',
      help(
        ['cdc-fanout validate -c connectors/demo.yaml', 'cdc-fanout validate -c connectors/      # every file, plus conflicts between them'],
        `0 every file is valid (run would start with it); 1 errors, one "file:line:column: field: message" line each on stderr; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (opts: { config: string }) => {
      process.exitCode = await validateCommand(opts.config);
    });

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
    .option(
      '--take-over-slot <pipeline>',
      "let this pipeline take over its existing replication slot although it has no ownership record for it (same as slot.takeover: true; repeatable). Only when the slot's previous owner is gone for good",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      help(
        ['cdc-fanout run -c connectors/demo.yaml', 'cdc-fanout run -c connectors/ --admin-port 9000 --admin-token-file admin.token', 'cdc-fanout run -c connectors/demo.yaml --take-over-slot demo'],
        `0 stopped cleanly after SIGTERM/SIGINT; 1 config errors, failed start or unclean stop; ${USAGE_ERROR} usage error; 130 a second signal forced the exit.`,
      ),
    )
    .action(async (opts: RunFlags) => {
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
    .description('Request an ad-hoc re-snapshot of tables while streaming continues (Debezium-style signal table)')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
    .option('-t, --tables <list>', 'comma-separated schema.table list (default: every captured table)')
    .option('--admin <url>', `${ADMIN_HELP}; the request is refused when no daemon answers (a signal is only picked up by a running daemon)`, httpUrl)
    .addHelpText(
      'after',
      help(
        ['cdc-fanout snapshot shop -c connectors/demo.yaml', 'cdc-fanout snapshot shop -c connectors/demo.yaml --tables public.products,public.orders'],
        `0 the request was written to the signal table; 1 config error, no daemon answers, table not captured or database error; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: { config: string; tables?: string; admin?: string }) => {
      const { snapshotCommand } = await import('./snapshot.js');
      process.exitCode = await snapshotCommand(pipeline, opts);
    });

  program
    .command('reset-offsets')
    .description('Move a sink\'s stored offsets to the earliest or latest Kafka offsets (daemon must be stopped)')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('-c, --config <file|dir>', 'config file(s) holding the pipeline')
    .requiredOption('-s, --sink <name>', 'sink name')
    .addOption(new Option('--to <where>', 'where to move the offsets').choices(['earliest', 'latest']).makeOptionMandatory())
    .option('--admin <url>', `${ADMIN_HELP}; used to check that no daemon is running`, httpUrl)
    .option('--admin-url <url>', 'same as --admin', httpUrl)
    .option('--yes', 'confirm: without it nothing is changed')
    .addHelpText(
      'after',
      help(
        ['cdc-fanout reset-offsets shop -c connectors/demo.yaml --sink search --to earliest        # prints the plan only', 'cdc-fanout reset-offsets shop -c connectors/demo.yaml --sink search --to earliest --yes'],
        `0 offsets reset (or nothing to reset); 1 refused (no --yes, a daemon is running, the group has live members) or failed; ${USAGE_ERROR} usage error.`,
      ),
    )
    .action(async (pipeline: string, opts: ResetFlags) => {
      const { resetOffsetsCommand } = await import('./reset-offsets.js');
      process.exitCode = await resetOffsetsCommand(pipeline, opts);
    });

  return program;
}

export interface RunFlags {
  config: string;
  adminHost: string;
  adminPort: number;
  adminTokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  shutdownTimeoutMs: number;
  admin: boolean;
  takeOverSlot?: string[];
}

export interface ResetFlags {
  config: string;
  sink: string;
  to: string;
  admin?: string;
  adminUrl?: string;
  yes?: boolean;
}

