/**
 * The daemon's own record: a small JSON file a running daemon writes once its admin server
 * listens, so the CLI (`status`, `reset-offsets`, `snapshot`) finds the admin address of the daemon
 * that runs a given config — whatever `--admin-port` it was started with. One file per config path,
 * under `$CDC_FANOUT_STATE_DIR` or `<os.tmpdir()>/cdc-fanout-<uid>`; removed on a graceful stop. A
 * record whose process is gone (kill -9) is ignored and cleaned up by the next reader.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve, sep } from 'node:path';

export interface DaemonRecord {
  readonly pid: number;
  /** Admin base URL; null when the daemon runs with --no-admin. */
  readonly url: string | null;
  /** Absolute path of the --config the daemon was started with (file or directory). */
  readonly config: string;
  /** The pipeline files it loaded (absolute). */
  readonly files: readonly string[];
  readonly pipelines: readonly string[];
  /** True when the admin API needs a bearer token. */
  readonly auth: boolean;
  readonly startedAt: string;
}

export function recordDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CDC_FANOUT_STATE_DIR) return resolve(env.CDC_FANOUT_STATE_DIR);
  let who: string;
  try {
    who = String(userInfo().uid >= 0 ? userInfo().uid : userInfo().username);
  } catch {
    who = 'user';
  }
  return join(tmpdir(), `cdc-fanout-${who}`);
}

export function recordPath(config: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = createHash('sha256').update(resolve(config)).digest('hex').slice(0, 16);
  return join(recordDir(env), `daemon-${id}.json`);
}

/** Writes the record atomically (temp file + rename); returns its path. */
export function writeDaemonRecord(record: DaemonRecord, env: NodeJS.ProcessEnv = process.env): string {
  const dir = recordDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = recordPath(record.config, env);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** Removes the record at `path` if it is still this process's (a newer daemon may have replaced it). */
export function removeDaemonRecord(path: string, pid = process.pid): void {
  try {
    const rec = JSON.parse(readFileSync(path, 'utf8')) as Partial<DaemonRecord>;
    if (rec.pid === pid) rmSync(path, { force: true });
  } catch {
    // already gone or unreadable: nothing to remove
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isRecord(x: unknown): x is DaemonRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.pid === 'number' && (typeof r.url === 'string' || r.url === null) && typeof r.config === 'string' && Array.isArray(r.files);
}

/** Records of daemons whose process still exists; stale ones are deleted. */
export function liveDaemonRecords(env: NodeJS.ProcessEnv = process.env): DaemonRecord[] {
  const dir = recordDir(env);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^daemon-[0-9a-f]+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: DaemonRecord[] = [];
  for (const n of names) {
    const path = join(dir, n);
    let rec: unknown;
    try {
      rec = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (!isRecord(rec)) continue;
    if (alive(rec.pid)) out.push(rec);
    else rmSync(path, { force: true });
  }
  return out;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Live records of daemons running `config`: the same path, a file the daemon loaded, a directory
 * holding one of its files, or a file inside the directory it was started with.
 */
export function daemonRecordsFor(config: string, env: NodeJS.ProcessEnv = process.env): DaemonRecord[] {
  const abs = resolve(config);
  const inside = (file: string, dir: string): boolean => file.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  return liveDaemonRecords(env).filter(
    (r) => r.config === abs || r.files.includes(abs) || (isDir(abs) && r.files.some((f) => inside(f, abs))) || inside(abs, r.config),
  );
}
