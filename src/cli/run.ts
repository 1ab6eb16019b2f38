/** `cdc-fanout run`: the daemon. Exit 0 after a graceful stop, 1 on invalid config or unclean stop. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { maskString, redact } from '../spec/secret.js';
import { Daemon } from '../daemon/daemon.js';
import { buildDefinitions, type DaemonRole } from '../daemon/definitions.js';
import { defaultRestartPolicy } from '../daemon/supervisor.js';
import { removeDaemonRecord, writeDaemonRecord, type DaemonRecord } from '../daemon/record.js';
import { createLogger } from '../observability/logger.js';

/** The command's options as commander parses them (declared in program.ts). */
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
  /** What this daemon runs of each pipeline (src/daemon/definitions.ts `DaemonRole`). */
  role: DaemonRole;
}

function readNamed(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export async function runCommand(opts: RunFlags): Promise<number> {
  const loaded = await loadConfig(opts.config);
  if (loaded.errors.length) {
    for (const e of loaded.errors) process.stderr.write(`${formatError(e)}\n`);
    process.stderr.write(`${loaded.errors.length} config error${loaded.errors.length === 1 ? '' : 's'}; not starting (check with: cdc-fanout validate --config ${opts.config})\n`);
    return 1;
  }
  for (const name of opts.takeOverSlot ?? []) {
    // The pipeline's name, or its source connector name (the one the ownership error prints).
    const p = loaded.pipelines.find((x) => x.config.name === name || x.config.source.name === name);
    if (!p) {
      process.stderr.write(`--take-over-slot ${name}: no such pipeline (have: ${loaded.pipelines.map((x) => x.config.name).join(', ') || 'none'}); not starting\n`);
      return 1;
    }
    p.config.source['slot.takeover'] = true;
  }
  const secrets = loaded.secrets;
  let token: string | undefined;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  try {
    token = opts.adminTokenFile ? readNamed(opts.adminTokenFile, 'admin token file').toString('utf8').trim() : process.env.CDC_ADMIN_TOKEN || undefined;
    if (opts.tlsCert || opts.tlsKey) {
      if (!opts.tlsCert || !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
      tls = { cert: readNamed(opts.tlsCert, 'TLS certificate'), key: readNamed(opts.tlsKey, 'TLS key') };
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  if (token) secrets.add(token);

  // Every log line from every component passes through here: secret values are masked.
  const logger = createLogger({
    formatters: { log: (obj) => redact(obj, secrets) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? maskString(a, secrets) : a)) as Parameters<typeof method>);
      },
    },
  });
  const defs = await buildDefinitions(loaded.pipelines, { logger, role: opts.role });
  // The record tells the CLI where this daemon's admin API is (src/daemon/record.ts).
  let recordFile: string | undefined;
  const writeRecord = (url: string | null): void => {
    const record: DaemonRecord = {
      pid: process.pid,
      url,
      config: resolve(opts.config),
      files: loaded.pipelines.map((p) => resolve(p.file)),
      pipelines: loaded.pipelines.map((p) => p.config.name),
      auth: Boolean(token),
      startedAt: new Date().toISOString(),
    };
    try {
      recordFile = writeDaemonRecord(record);
      logger.info({ record: recordFile }, 'daemon record written (the CLI finds the admin address there)');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot write the daemon record; CLI commands need --admin <url> to find this daemon');
    }
  };
  process.on('exit', () => {
    if (recordFile) removeDaemonRecord(recordFile);
  });
  const daemon = new Daemon(defs, {
    admin: opts.admin ? { host: opts.adminHost, port: opts.adminPort, token, tls } : false,
    shutdownTimeoutMs: opts.shutdownTimeoutMs,
    policy: defaultRestartPolicy,
    logger,
    secrets,
    onAdminListening: (url) => writeRecord(url),
  });
  if (!opts.admin) writeRecord(null);

  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal: sig }, 'second signal: exiting now without waiting for a graceful stop');
        process.exit(130);
      }
      logger.info({ signal: sig }, `${sig}: graceful shutdown`);
      void daemon.stop().then((ok) => resolve(ok ? 0 : 1));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => logger.warn('SIGHUP: configuration is not reloaded (restart-only); restart the process to apply config changes — every component resumes from its checkpoints'));
  });
  try {
    await daemon.start();
  } catch (err) {
    logger.fatal({ err: maskString((err as Error).message, secrets) }, 'daemon failed to start');
    await daemon.stop();
    return 1;
  }
  logger.info({ pipelines: defs.map((d) => d.name), role: opts.role, admin: daemon.adminUrl }, 'daemon running');
  return stopped;
}
