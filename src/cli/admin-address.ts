/**
 * Where the CLI finds a running daemon's admin API, in this order:
 *   1. `--admin <url>` (or its older spelling `--admin-url`), then env CDC_ADMIN_URL;
 *   2. the record of the daemon started with `--config` (src/daemon/record.ts);
 *   3. without --config: the one daemon record on this machine (several → say which to pick);
 *   4. http://127.0.0.1:<CDC_ADMIN_PORT or 8083>, the `run` default.
 * Every answer carries how it was found, so an error can say which address was tried and why.
 */
import { daemonRecordsFor, liveDaemonRecords, recordDir, type DaemonRecord } from '../daemon/record.js';

export interface AdminFlags {
  admin?: string | undefined;
  adminUrl?: string | undefined;
  config?: string | undefined;
}

export type AdminTarget =
  | { readonly kind: 'url'; readonly url: string; readonly how: string; readonly record?: DaemonRecord }
  /** A daemon runs this config but without an admin server. */
  | { readonly kind: 'no-admin'; readonly record: DaemonRecord; readonly how: string }
  | { readonly kind: 'ambiguous'; readonly message: string };

const describe = (r: DaemonRecord): string => `pid ${r.pid}, --config ${r.config}, admin ${r.url ?? 'off (--no-admin)'}`;

export function resolveAdmin(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const explicit = flags.admin ?? flags.adminUrl;
  if (explicit) return { kind: 'url', url: explicit, how: '--admin' };
  if (env.CDC_ADMIN_URL) return { kind: 'url', url: env.CDC_ADMIN_URL, how: 'CDC_ADMIN_URL' };
  const records = flags.config ? daemonRecordsFor(flags.config, env) : liveDaemonRecords(env);
  if (records.length > 1) {
    return {
      kind: 'ambiguous',
      message: `${records.length} running daemons ${flags.config ? `run ${flags.config}` : 'are recorded on this machine'} (${recordDir(env)}):\n${records.map((r) => `  ${describe(r)}`).join('\n')}\npick one with --admin <url>${flags.config ? '' : ' or --config <file|dir>'}`,
    };
  }
  const [only] = records;
  if (only) {
    const how = `daemon record of pid ${only.pid} (--config ${only.config})`;
    return only.url === null ? { kind: 'no-admin', record: only, how } : { kind: 'url', url: only.url, how, record: only };
  }
  const port = env.CDC_ADMIN_PORT ?? '8083';
  const why = flags.config ? `no running daemon recorded for ${flags.config} in ${recordDir(env)}` : `no running daemon recorded in ${recordDir(env)}`;
  return { kind: 'url', url: `http://127.0.0.1:${port}`, how: `the default address (${why})` };
}

/** The hint that ends every "daemon not found" error. */
export const ADMIN_HINT = 'point at the daemon with --admin <url> (or CDC_ADMIN_URL), or pass the --config it was started with';
