/**
 * The daemon's own V8 heap sizing (issue 16: ≤ 300 MB RSS with no heap flag from the user).
 *
 * Node sizes V8's heap from the host's RAM. On a 24 GiB host Node 24 lets the young generation grow
 * to 2 × 64 MB semi-spaces, and the old generation to ~4× its live size before a full collection:
 * in a 1M-row transaction the source-only daemon had ~50 MB live after every mark-compact but
 * 450+ MB RSS (young generation 128 MB, old generation cycling 50 → 250 MB, V8's pooled pages).
 * Heap limits are fixed when the isolate is created (v8.setFlagsFromString cannot change them
 * later), so `run` re-executes itself once, in the same process (execve: same pid, same stdio),
 * with the flags below — only those the user did not set in NODE_OPTIONS or on the node command
 * line. CDC_FANOUT_HEAP_FLAGS overrides the set ("" or "none": leave V8's defaults).
 */

/**
 * Semi-space (MB): a young generation of 2 × 16 MB instead of up to 2 × 64 MB. Measured on the 1M-row
 * transaction (bench:source, loaded machine): 8 → 181–191 MB peak but ~35 % slower than V8's
 * defaults; 16 → 204–208 MB; 32 → 231 MB, within ~7 %; defaults → 417–432 MB. Each scavenge copies
 * the events waiting for Kafka, so a smaller young generation costs more copying.
 */
const SEMI_SPACE_MB = 16;
/**
 * Old-generation limit (MB), like a JVM's -Xmx: V8 collects before it instead of growing to ~4× the
 * live heap. The live heap of a daemon with a source and three sinks is ~50–120 MB; out of memory
 * stops the process with a heap error naming the flag (raise it with NODE_OPTIONS).
 */
const OLD_SPACE_MB = 256;

/** The flags `run` adds: ours, minus any the user already chose (same flag, or --max-heap-size for either). */
export function daemonHeapFlags(given: readonly string[], override: string | undefined): string[] {
  if (override !== undefined) return override.trim() === '' || override.trim() === 'none' ? [] : override.trim().split(/\s+/);
  const has = (flag: string): boolean => given.some((a) => a === flag || a.startsWith(`${flag}=`) || a.replace(/_/g, '-').startsWith(`${flag}=`));
  if (has('--max-heap-size')) return [];
  const flags: string[] = [];
  if (!has('--max-semi-space-size')) flags.push(`--max-semi-space-size=${SEMI_SPACE_MB}`);
  if (!has('--max-old-space-size')) flags.push(`--max-old-space-size=${OLD_SPACE_MB}`);
  return flags;
}

/**
 * glibc malloc settings for the re-executed daemon (only those the user did not set; glibc reads them
 * at start, so they ride on the same execve; other C libraries ignore them). A 300k-row transaction
 * through the source and all three sinks (bench:e2e --large-tx 300000, one run each, 2026-12-01),
 * peak / mean RSS: glibc's defaults 346 / 317 MB; MALLOC_ARENA_MAX=2 322 / 304 (each worker thread
 * otherwise grows an arena of its own and keeps it); MALLOC_MMAP_THRESHOLD_=131072 321 / 297 (glibc
 * raises its mmap threshold after the first large free, and later ~1 MB Buffers — Kafka fetches,
 * HTTP bodies — then come from the brk heap, which fragments and is not given back); both 310 / 287,
 * with the same time for every sink to apply the transaction.
 */
export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

/** The environment variables `run` adds: DAEMON_MALLOC_ENV minus those already set; none with CDC_FANOUT_MALLOC_ENV=none (glibc's defaults). */
export function daemonMallocEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.CDC_FANOUT_MALLOC_ENV === 'none') return out;
  for (const [k, v] of Object.entries(DAEMON_MALLOC_ENV)) if (env[k] === undefined) out[k] = v;
  return out;
}

/** Marks the re-executed process (never re-execute twice). */
const MARK = 'CDC_FANOUT_HEAP_APPLIED';

/**
 * Re-executes this process with the daemon's heap flags when they are missing; returns (doing
 * nothing) when they are in place, the platform has no execve (Windows), or the exec fails.
 * Call before anything is opened: execve keeps only stdin/stdout/stderr.
 */
export function applyDaemonHeapFlags(): void {
  if (process.env[MARK] === '1') return;
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => void }).execve;
  if (typeof execve !== 'function') return;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
  const flags = daemonHeapFlags(given, process.env.CDC_FANOUT_HEAP_FLAGS);
  const env = daemonMallocEnv(process.env);
  if (flags.length === 0 && Object.keys(env).length === 0) return;
  try {
    execve.call(process, process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env, [MARK]: '1' });
  } catch (err) {
    process.stderr.write(`cdc-fanout: could not restart with the heap flags ${flags.join(' ')} and malloc settings ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} (${(err as Error).message}); running with Node's and glibc's defaults\n`);
  }
}
