/** The `cdc-fanout` command tree (commander): run the daemon, validate configs, query and steer a running daemon. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { StatusFlags } from './status.js';
import { validateCommand } from './validate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; description: string };

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${v}"`);
  return n;
}

function url(v: string): string {
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new InvalidArgumentError(`expected the admin API's base URL, e.g. http://127.0.0.1:8083, got "${v}"`);
  }
  return v;
}

const ADMIN_HELP = 'admin API base URL of the daemon (env CDC_ADMIN_URL); default: from the record of the daemon running --config, else http://127.0.0.1:8083';

/** `env` supplies the flag defaults (the docs generator passes {} so they are the built-in ones). */
export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('cdc-fanout')
    .description(pkg.description)
    .version(pkg.version, '-V, --version')
    .showHelpAfterError();

  program
    .command('validate')
    .description('Validate pipeline config files; prints one located line per error (exit 0 valid, 1 invalid)')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .action(async (opts: { config: string }) => {
      process.exitCode = await validateCommand(opts.config);
    });

  program
    .command('run')
    .description('Run the daemon: every pipeline in the config files, plus the admin HTTP server')
    .requiredOption('-c, --config <file|dir>', 'config file, or a directory of *.yaml|*.yml|*.json files')
    .option('--admin-host <host>', 'admin server bind address (env CDC_ADMIN_HOST)', env.CDC_ADMIN_HOST ?? '127.0.0.1')
    .option('--admin-port <port>', 'admin server port, 0 = any free port (env CDC_ADMIN_PORT)', (v) => Number(v), Number(env.CDC_ADMIN_PORT ?? 8083))
    .option('--admin-token-file <path>', 'file holding a bearer token required on every admin request except /health (env CDC_ADMIN_TOKEN for the token itself)')
    .option('--tls-cert <path>', 'PEM certificate: serve the admin API over HTTPS (with --tls-key)')
    .option('--tls-key <path>', 'PEM private key for --tls-cert')
    .option('--shutdown-timeout-ms <ms>', 'longest graceful shutdown on SIGTERM/SIGINT before forcing exit', positiveInt, 30000)
    .option('--no-admin', 'do not start the admin server')
    .action(async (opts: RunFlags) => {
      const { runCommand } = await import('./run.js');
      // Exit explicitly: a client library timer must not keep a stopped daemon alive.
      process.exit(await runCommand(opts));
    });

  program
    .command('status')
    .description('Show the state of a running daemon (from its admin API)')
    .option('--admin <url>', ADMIN_HELP, url)
    .option('--admin-url <url>', 'same as --admin', url)
    .option('-c, --config <file|dir>', 'the config the daemon was started with (finds its admin address)')
    .option('--token <token>', 'bearer token (env CDC_ADMIN_TOKEN)', env.CDC_ADMIN_TOKEN)
    .option('--json', 'print the raw JSON')
    .option('--max-lag <records>', 'exit 2 when a sink is more than this many records behind (or its lag is unknown)', nonNegativeInt)
    .option('--max-lag-ms <ms>', 'exit 2 when a sink\'s oldest unapplied event is older than this (or unknown)', nonNegativeInt)
    .addHelpText('after', '\nExit status: 0 every component RUNNING or PAUSED (and within --max-lag/--max-lag-ms), 2 a component is not (FAILED, STARTING, RESTARTING, STOPPED) or past a lag threshold, 1 the daemon could not be asked.')
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
    .option('--admin <url>', `${ADMIN_HELP}; the request is refused when no daemon answers (a signal is only picked up by a running daemon)`, url)
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
    .requiredOption('--to <where>', 'earliest | latest')
    .option('--admin <url>', `${ADMIN_HELP}; used to check that no daemon is running`, url)
    .option('--admin-url <url>', 'same as --admin', url)
    .option('--yes', 'confirm: without it nothing is changed')
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
}

export interface ResetFlags {
  config: string;
  sink: string;
  to: string;
  admin?: string;
  adminUrl?: string;
  yes?: boolean;
}

